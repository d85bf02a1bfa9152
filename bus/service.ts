// The node's command handlers on NATS, registered as a NATS micro-service (`$SRV.PING|INFO|STATS`, so `nats micro
// ls` and any service client find the node), and the publisher of its domain events.
//
// Each handler: decode (never throws) → check the body's *shape* (typed BAD_INPUT) → call the owning actor (the
// chain actor, or the mailbox registry which routes to the per-mailbox actor) → encode the reply envelope.
// No domain rule lives here: what is a valid event, mailbox or claim is decided by the actors and protocol/.
// The command table and body types are in bus/commands.ts.
import type { NatsConnection } from '@nats-io/transport-node';
import { Svcm, type Service, type ServiceMsg } from '@nats-io/services';
import type { Logger } from 'pino';
import type { Subscription } from 'rxjs';
import type { ChainActor } from '../actors/chain-actor.js';
import type { MailboxRegistry } from '../actors/mailbox-registry.js';
import { MailboxAccess } from '../actors/mailbox-access.js';
import type { AppendInput } from '../protocol/append-rules.js';
import { ErrorCodes, InfonetError } from '../protocol/errors.js';
import type { MailboxClaim } from '../protocol/mailbox-keys.js';
import type { DepositRequest } from '../protocol/mailbox-rules.js';
import { domainOfEventType, lastSequence } from '../protocol/sequence-domains.js';
import { decodeRequest, encode, toReply } from './codec.js';
import {
  COMMANDS, EXPORT_MAX_LIMIT, MAX_CLAIMS_PER_REQUEST, POLL_MAX_LIMIT, SERVICE_NAME, splitCommand, toWireEvent,
  type ClaimsBody, type CommandName, type EventKind, type EventTypes, type NodeStatus,
} from './commands.js';
import { cmdSubject, encodeNodeToken, evtSubject } from './subjects.js';

export const INFONET_VERSION = '0.1.0';

/** What the service needs from the node (the composition root implements it). */
export interface ServiceTarget {
  nodeId: string;
  chain: ChainActor;
  mailboxes: MailboxRegistry;
  status(): Promise<NodeStatus>;
}

export interface BusService {
  readonly service: Service;
  /** Commands being handled right now. */
  inFlight(): number;
  /** Stop taking commands (unsubscribe from every command subject), then wait for in-flight commands. */
  stop(): Promise<void>;
}

// ── shape checks (BAD_INPUT) ─────────────────────────────────────────────────────────────────────────────────────

const bad = (reason: string): never => {
  throw new InfonetError(ErrorCodes.BAD_INPUT, reason);
};

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function record(v: unknown, what: string): Record<string, unknown> {
  return isRecord(v) ? v : bad(`${what}: body must be a map`);
}

function optString(b: Record<string, unknown>, k: string): void {
  if (b[k] !== undefined && b[k] !== null && typeof b[k] !== 'string') bad(`${k} must be a string`);
}

function reqString(b: Record<string, unknown>, k: string): string {
  if (typeof b[k] !== 'string') bad(`${k} is required and must be a string`);
  return b[k] as string;
}

function optInt(b: Record<string, unknown>, k: string, min: number, max: number): number | undefined {
  const v = b[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) bad(`${k} must be an integer in ${min}..${max}`);
  return v as number;
}

/** Drops null/undefined values (msgpack nil) so optional fields read as absent. */
function compact<T extends Record<string, unknown>>(b: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(b)) if (v !== undefined && v !== null) out[k] = v;
  return out as T;
}

function shapeAppend(v: unknown): AppendInput {
  const b = record(v, 'chain.append');
  for (const k of ['event_type', 'node_id', 'signature', 'public_key', 'public_key_algo']) reqString(b, k);
  optString(b, 'protocol_version');
  if (b.timestamp !== undefined && b.timestamp !== null && (typeof b.timestamp !== 'number' || !Number.isFinite(b.timestamp))) bad('timestamp must be a number');
  if (!('payload' in b)) bad('payload is required');
  return compact(b) as unknown as AppendInput;
}

/** Signed mailbox requests are shape-checked and verified by actors/mailbox-access.ts; only the bus limits live here. */
function shapeClaims(v: unknown, what: string): Record<string, unknown> {
  const b = compact(record(v, what));
  if (Array.isArray(b.claims) && b.claims.length > MAX_CLAIMS_PER_REQUEST) bad(`at most ${MAX_CLAIMS_PER_REQUEST} claims per request`);
  return b;
}

function shapeDeposit(v: unknown): DepositRequest {
  const b = record(v, 'dm.deposit');
  reqString(b, 'sender_id');
  reqString(b, 'ciphertext');
  reqString(b, 'delivery_class');
  for (const k of ['raw_sender_id', 'recipient_id', 'msg_id', 'recipient_token', 'sender_seal', 'relay_salt', 'sender_token_hash', 'payload_format', 'session_welcome']) {
    optString(b, k);
  }
  if (b.sender_proof !== undefined && b.sender_proof !== null && !isRecord(b.sender_proof)) bad('sender_proof must be a map');
  return compact(b) as unknown as DepositRequest;
}

// ── handlers ─────────────────────────────────────────────────────────────────────────────────────────────────────

type Handler = (body: unknown) => Promise<unknown>;

function makeHandlers(t: ServiceTarget): Record<CommandName, Handler> {
  const { chain, mailboxes } = t;
  const access = new MailboxAccess(mailboxes, chain, mailboxes.accessOptions());
  const status = () => ({ height: chain.length, head: chain.head });
  return {
    'node.status': async () => t.status(),
    'chain.status': async () => status(),
    'chain.append': async (body) => {
      const ev = await chain.append(shapeAppend(body));
      const idx = chain.heightOf(ev.event_id);
      return { event: toWireEvent(ev), height: idx === undefined ? chain.length : idx + 1, head: ev.event_id };
    },
    'chain.ingest': async (body) => {
      const b = record(body, 'chain.ingest');
      if (!Array.isArray(b.events)) bad('events must be a list');
      const maxAge = optInt(b, 'max_age_s', 0, Number.MAX_SAFE_INTEGER);
      const o = await chain.ingest(b.events as unknown[], maxAge);
      return { accepted: o.accepted, duplicates: o.duplicates, rejected: o.rejected, ...status() };
    },
    'chain.export': async (body) => {
      const b = body === undefined || body === null ? {} : record(body, 'chain.export');
      const from = optInt(b, 'from', 0, Number.MAX_SAFE_INTEGER) ?? 0;
      const limit = optInt(b, 'limit', 1, EXPORT_MAX_LIMIT) ?? 100;
      const s = status();
      const events = from >= s.height ? [] : await chain.readRange(from, Math.min(limit, s.height - from));
      const end = from + events.length;
      return { from, events: events.map(toWireEvent), next: end < s.height ? end : null, ...s };
    },
    'chain.next_sequence': async (body) => {
      const b = record(body, 'chain.next_sequence');
      const nodeId = reqString(b, 'node_id');
      const type = reqString(b, 'event_type');
      return { sequence: lastSequence(chain.ledger.view, nodeId, domainOfEventType(type)) + 1 };
    },
    'dm.deposit': async (body) => mailboxes.deposit(shapeDeposit(body)),
    // Issue 8: every mailbox read, claim and block is a request signed by the agent (actors/mailbox-access.ts).
    'dm.count': async (body) => ({ count: await access.count(shapeClaims(body, 'dm.count')) }),
    'dm.poll': async (body) => {
      const b = shapeClaims(body, 'dm.poll');
      optInt(b, 'limit', 1, POLL_MAX_LIMIT);
      return access.poll(b);
    },
    'dm.claim': async (body) => ({ messages: await access.claim(shapeClaims(body, 'dm.claim')) }),
    'dm.pending_ids': async (body) => ({ msg_ids: await access.pendingIds(shapeClaims(body, 'dm.pending_ids')) }),
    'dm.block': async (body) => access.block(compact(record(body, 'dm.block'))),
  };
}

/** Registers the micro-service and one endpoint per command. */
export async function startBusService(nc: NatsConnection, target: ServiceTarget, logger: Logger): Promise<BusService> {
  const handlers = makeHandlers(target);
  const inflight = new Set<Promise<void>>();
  const service = await new Svcm(nc as unknown as ConstructorParameters<typeof Svcm>[0]).add({
    name: SERVICE_NAME,
    version: INFONET_VERSION,
    description: 'infonet node: signed hashchain, private gates, offline DM mailboxes',
    metadata: { node_id: target.nodeId, node_token: encodeNodeToken(target.nodeId) },
  });

  const publishRejection = (command: string, code: string, reason: string): void => {
    try {
      nc.publish(evtSubject(target.nodeId, 'rejected'), encode({ command, code, reason }));
    } catch {
      // connection closing: nothing to tell
    }
  };

  const run = async (name: CommandName, msg: ServiceMsg): Promise<void> => {
    let reply: unknown;
    const d = decodeRequest(msg.data);
    if (!d.ok) reply = d.error;
    else {
      try {
        reply = await handlers[name](d.value);
      } catch (e) {
        if (e instanceof InfonetError) reply = e;
        else {
          // Not a rule: a bug or an I/O failure. Log the message only (bodies may hold ciphertext).
          logger.error({ command: name, err: (e as Error)?.message ?? String(e) }, 'command failed');
          reply = new InfonetError(ErrorCodes.INTERNAL, `internal error in ${name}`);
        }
      }
    }
    if (reply instanceof InfonetError) {
      logger.debug({ command: name, code: reply.code }, 'command rejected');
      publishRejection(name, reply.code, reply.reason);
    }
    if (!msg.reply) return;
    try {
      msg.respond(toReply(reply));
    } catch (e) {
      logger.warn({ command: name, err: (e as Error).message }, 'could not send reply');
    }
  };

  for (const name of COMMANDS) {
    const [area, verb] = splitCommand(name);
    service.addEndpoint(name.replace('.', '_'), {
      subject: cmdSubject(target.nodeId, area, verb),
      metadata: { command: name },
      handler: (err, msg) => {
        if (err) {
          logger.error({ command: name, err: err.message }, 'subscription error');
          return;
        }
        const p = run(name, msg).catch((e: unknown) => logger.error({ command: name, err: String(e) }, 'handler crashed'));
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
      },
    });
  }
  await nc.flush(); // endpoints are registered with the server before the node reports "ready"

  let stopping: Promise<void> | undefined;
  return {
    service,
    inFlight: () => inflight.size,
    stop() {
      stopping ??= (async () => {
        await service.stop().catch(() => undefined);
        while (inflight.size) await Promise.allSettled([...inflight]);
      })();
      return stopping;
    },
  };
}

// ── events ───────────────────────────────────────────────────────────────────────────────────────────────────────

export interface EventPublisher {
  stop(): void;
}

/** Publishes the chain's and the mailboxes' domain events on `infonet.<node>.evt.<kind>`. */
export function startEventPublisher(nc: NatsConnection, nodeId: string, chain: ChainActor, mailboxes: MailboxRegistry, logger: Logger): EventPublisher {
  const subjects = new Map<EventKind, string>();
  const pub = <K extends EventKind>(kind: K, body: EventTypes[K]): void => {
    let s = subjects.get(kind);
    if (!s) subjects.set(kind, (s = evtSubject(nodeId, kind)));
    try {
      nc.publish(s, encode(body));
    } catch (e) {
      logger.debug({ kind, err: (e as Error).message }, 'event not published');
    }
  };
  const subs: Subscription[] = [];
  subs.push(chain.events$.subscribe((n) => {
    switch (n.kind) {
      case 'appended': {
        const idx = chain.heightOf(n.event.event_id);
        pub('chain_appended', { event: toWireEvent(n.event), height: idx === undefined ? chain.length : idx + 1, head: n.event.event_id });
        break;
      }
      case 'ingested':
        pub('chain_ingested', {
          accepted: n.events.length, duplicates: n.duplicates, rejected: n.rejected, event_ids: n.events.map((e) => e.event_id),
          height: chain.length, head: chain.head,
        });
        break;
      case 'forked':
        pub('chain_forked', { height: n.length, head: n.head });
        break;
      default:
        break; // rejections are published by the service, once per command
    }
  }));
  subs.push(mailboxes.events$.subscribe((e) => {
    if (e.type !== 'deposited' && e.type !== 'claimed') return;
    pub(e.type === 'deposited' ? 'dm_deposited' : 'dm_claimed', {
      msg_id: e.msg_id, mailbox_key: e.mailbox_key, delivery_class: e.delivery_class, origin: e.origin,
      ...(e.recipient_id ? { recipient_id: e.recipient_id } : {}),
    });
  }));
  return { stop: () => subs.forEach((s) => s.unsubscribe()) };
}

