// The node's command handlers on NATS, registered as a NATS micro-service (`$SRV.PING|INFO|STATS`, so `nats micro
// ls` and any service client find the node), and the publisher of its domain events.
//
// Each handler: decode (never throws) → parse the body with its zod schema (bus/command-schemas.ts; typed BAD_INPUT) → call the owning actor (the
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
import type { ChainEvent } from '../protocol/event.js';
import { ErrorCodes, InfonetError } from '../protocol/errors.js';
import type { DepositRequest } from '../protocol/mailbox-rules.js';
import { domainOfEventType, lastSequence } from '../protocol/sequence-domains.js';
import { decodeRequest, encode, encodeForSend, toReply } from './codec.js';
import {
  appendBody, blockBody, depositBody, exportBody, ingestBody, nextSequenceBody, parseBody, signedMailboxBody,
} from './command-schemas.js';
import {
  COMMANDS, SERVICE_NAME, splitCommand, toWireEvent, type CommandName, type EventKind, type EventTypes, type NodeStatus,
} from './commands.js';
import { cmdSubject, encodeNodeToken, evtSubject } from './subjects.js';

export const INFONET_VERSION = '0.1.0';

/** What the service needs from the node (the composition root implements it). */
export interface ServiceTarget {
  nodeId: string;
  chain: ChainActor;
  mailboxes: MailboxRegistry;
  status(): Promise<NodeStatus>;
  /** Told once per answered command: seconds from receipt to reply, and how it ended (node/metrics.ts histograms). */
  observe?(command: CommandName, seconds: number, outcome: 'ok' | 'rejected' | 'error'): void;
  /** Called before a reply or a rejection goes out: the event publisher's flush, so a command's events precede its reply. */
  beforeReply?(): void;
}

export interface BusService {
  readonly service: Service;
  /** Commands being handled right now. */
  inFlight(): number;
  /** Stop taking commands (unsubscribe from every command subject), then wait for in-flight commands. */
  stop(): Promise<void>;
}

// ── handlers ─────────────────────────────────────────────────────────────────────────────────────────────────────

function appendInput(command: string, body: unknown): AppendInput {
  return parseBody(appendBody(command), body) as unknown as AppendInput;
}

type Handler = (body: unknown) => Promise<unknown>;

function makeHandlers(t: ServiceTarget): Record<CommandName, Handler> {
  const { chain, mailboxes } = t;
  const access = new MailboxAccess(mailboxes, chain, mailboxes.accessOptions());
  const status = () => ({ height: chain.length, head: chain.head });
  const appended = (ev: ChainEvent) => {
    const idx = chain.heightOf(ev.event_id);
    return { event: toWireEvent(ev), height: idx === undefined ? chain.length : idx + 1, head: ev.event_id };
  };
  return {
    'node.status': async () => t.status(),
    'chain.status': async () => status(),
    // Three append routes (issue 9): the public path refuses private types (§2.8), gate (§4.5) and DM (§5.6) paths
    // take only their own type — the chain actor applies the path's rules.
    'chain.append': async (body) => appended(await chain.appendPublic(appendInput('chain.append', body))),
    'chain.append_gate': async (body) => appended(await chain.appendGate(appendInput('chain.append_gate', body))),
    'chain.append_dm': async (body) => appended(await chain.appendDm(appendInput('chain.append_dm', body))),
    'chain.ingest': async (body) => {
      const b = parseBody(ingestBody, body);
      const o = await chain.ingest(b.events, b.max_age_s ?? undefined);
      return { accepted: o.accepted, duplicates: o.duplicates, rejected: o.rejected, ...status() };
    },
    'chain.export': async (body) => {
      const b = parseBody(exportBody, body) ?? {};
      const from = b.from ?? 0;
      const limit = b.limit ?? 100;
      const s = status();
      const events = from >= s.height ? [] : await chain.readRange(from, Math.min(limit, s.height - from));
      const end = from + events.length;
      return { from, events: events.map(toWireEvent), next: end < s.height ? end : null, ...s };
    },
    'chain.next_sequence': async (body) => {
      const b = parseBody(nextSequenceBody, body);
      return { sequence: lastSequence(chain.ledger.view, b.node_id, domainOfEventType(b.event_type)) + 1 };
    },
    'dm.deposit': async (body) => mailboxes.deposit(parseBody(depositBody, body) as unknown as DepositRequest),
    // Issue 8: every mailbox read, claim and block is a request signed by the agent (actors/mailbox-access.ts).
    'dm.count': async (body) => ({ count: await access.count(parseBody(signedMailboxBody('dm.count'), body)) }),
    'dm.poll': async (body) => access.poll(parseBody(signedMailboxBody('dm.poll'), body)),
    'dm.claim': async (body) => ({ messages: await access.claim(parseBody(signedMailboxBody('dm.claim'), body)) }),
    'dm.pending_ids': async (body) => ({ msg_ids: await access.pendingIds(parseBody(signedMailboxBody('dm.pending_ids'), body)) }),
    'dm.block': async (body) => access.block(parseBody(blockBody, body)),
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
    const started = performance.now();
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
    target.beforeReply?.();
    if (reply instanceof InfonetError) {
      logger.debug({ command: name, code: reply.code }, 'command rejected');
      publishRejection(name, reply.code, reply.reason);
    }
    target.observe?.(name, (performance.now() - started) / 1000, !(reply instanceof InfonetError) ? 'ok' : reply.code === ErrorCodes.INTERNAL ? 'error' : 'rejected');
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
  /** Publishes the events held for this turn of the event loop now (before a command's reply). */
  flush(): void;
  /** Flushes, then stops listening. */
  stop(): void;
}

/** Events held before they are handed to NATS at once; more than this in one turn are flushed on the spot. */
export const EVENT_HOLD_MAX = 1024;

/**
 * Publishes the chain's and the mailboxes' domain events on `infonet.<node>.evt.<kind>`.
 * Events are held until the end of the current turn of the event loop (setImmediate) and published together:
 * nats.js writes to its socket once per microtask flush, and events emitted one await apart (a hydrated DM each, a
 * batch of replicas) otherwise cost a socket write each. Order is kept; a command's reply waits for its events
 * (`flush()` before the reply, ServiceTarget.beforeReply).
 */
export function startEventPublisher(nc: NatsConnection, nodeId: string, chain: ChainActor, mailboxes: MailboxRegistry, logger: Logger): EventPublisher {
  const subjects = new Map<EventKind, string>();
  const held: Array<{ kind: EventKind; subject: string; data: Uint8Array }> = [];
  let scheduled: NodeJS.Immediate | undefined;
  const flush = (): void => {
    if (scheduled) clearImmediate(scheduled);
    scheduled = undefined;
    for (const { kind, subject, data } of held.splice(0)) {
      try {
        nc.publish(subject, data);
      } catch (e) {
        logger.debug({ kind, err: (e as Error).message }, 'event not published');
      }
    }
  };
  const pub = <K extends EventKind>(kind: K, body: EventTypes[K]): void => {
    let subject = subjects.get(kind);
    if (!subject) subjects.set(kind, (subject = evtSubject(nodeId, kind)));
    held.push({ kind, subject, data: encodeForSend(body) });
    if (held.length >= EVENT_HOLD_MAX) flush();
    else scheduled ??= setImmediate(flush);
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
  return {
    flush,
    stop: () => {
      flush();
      subs.forEach((s) => s.unsubscribe());
    },
  };
}

