// Typed client for a node on the bus: one method per command (promises; rejections are InfonetError with the node's
// {code, reason}, or TIMEOUT / UNAVAILABLE from the transport) and the node's events as rxjs Observables.
//
//   const c = await InfonetClient.connect('nats://127.0.0.1:4222', '!sb_…');
//   await c.chainStatus();                      // {height, head}
//   c.events$('chain_appended').subscribe(e => …);
//   await c.close();
//
// Discovery: InfonetClient.discover(nc) pings `$SRV.PING.infonet` and lists every node that answers.
import type { NatsConnection } from '@nats-io/transport-node';
import { Svcm, type ServiceIdentity } from '@nats-io/services';
import { Observable } from 'rxjs';
import type { AppendInput } from '../protocol/append-rules.js';
import type { Identity } from '../protocol/identity.js';
import { signAppend } from '../protocol/local-sign.js';
import { randomBytes } from 'node:crypto';
import { type BlockAction, signBlockRequest } from '../protocol/block-list.js';
import { type MailboxAccessKind, signMailboxRequest } from '../protocol/mailbox-access.js';
import type { MailboxClaim } from '../protocol/mailbox-keys.js';
import type { DepositRequest } from '../protocol/mailbox-rules.js';
import { decodeSafe, requestTyped } from './codec.js';
import { connectBus } from './connect.js';
import {
  EXPORT_MAX_LIMIT, SERVICE_NAME, splitCommand, type CommandName, type CommandTypes, type EventKind, type EventTypes, type WireEvent,
} from './commands.js';
import { cmdSubject, evtSubject, evtWildcard, parseEvtSubject } from './subjects.js';

export interface BusEvent<K extends EventKind = EventKind> {
  kind: K;
  node: string;
  subject: string;
  body: EventTypes[K];
}

export interface DiscoveredNode {
  node_id: string;
  service_id: string;
  version: string;
}

export class InfonetClient {
  private readonly subjects = new Map<CommandName, string>();

  constructor(readonly nc: NatsConnection, readonly nodeId: string, readonly timeoutMs = 5000, private readonly ownsConnection = false) {}

  /**
   * Connects to `natsUrl` and targets `nodeId`. close() closes the connection. `creds`: a credentials file
   * (bus/credentials.ts); default the operator credentials of a node this process started on that URL.
   */
  static async connect(natsUrl: string, nodeId: string, opts: { timeoutMs?: number; name?: string; creds?: string } = {}): Promise<InfonetClient> {
    const nc = await connectBus(natsUrl, { creds: opts.creds, name: opts.name ?? 'infonet-client' });
    return new InfonetClient(nc, nodeId, opts.timeoutMs ?? 5000, true);
  }

  /** Nodes answering `$SRV.PING.infonet` within `waitMs`. */
  static async discover(nc: NatsConnection, waitMs = 1000): Promise<DiscoveredNode[]> {
    const client = new Svcm(nc as unknown as ConstructorParameters<typeof Svcm>[0]).client({ strategy: 'timer', maxWait: waitMs });
    const out: DiscoveredNode[] = [];
    for await (const p of (await client.ping(SERVICE_NAME)) as AsyncIterable<ServiceIdentity>) {
      const id = p.metadata?.node_id;
      if (id) out.push({ node_id: id, service_id: p.id, version: p.version });
    }
    return out;
  }

  /** Sends any command (typed by name). */
  request<C extends CommandName>(name: C, body?: CommandTypes[C]['body'], timeoutMs = this.timeoutMs): Promise<CommandTypes[C]['result']> {
    let s = this.subjects.get(name);
    if (!s) {
      const [area, verb] = splitCommand(name);
      this.subjects.set(name, (s = cmdSubject(this.nodeId, area, verb)));
    }
    return requestTyped<CommandTypes[C]['result']>(this.nc, s, body ?? null, timeoutMs);
  }

  status() { return this.request('node.status'); }
  chainStatus() { return this.request('chain.status'); }
  /** Appends an externally signed event on the public path (§2.8: private types are refused). */
  append(input: AppendInput) { return this.request('chain.append', input); }
  /** Appends an externally signed `gate_message` on the private gate path (§4.5). */
  appendGate(input: AppendInput) { return this.request('chain.append_gate', input); }
  /** Appends an externally signed `dm_message` on the private DM path (§5.6). */
  appendDm(input: AppendInput) { return this.request('chain.append_dm', input); }
  /** The append route for an event type: gate and DM messages have their own paths (issue 9). */
  appendRouted(input: AppendInput) {
    return input.event_type === 'gate_message' ? this.appendGate(input) : input.event_type === 'dm_message' ? this.appendDm(input) : this.append(input);
  }
  ingest(events: unknown[], maxAgeS?: number) {
    return this.request('chain.ingest', maxAgeS === undefined ? { events } : { events, max_age_s: maxAgeS });
  }
  exportPage(from = 0, limit = 100) { return this.request('chain.export', { from, limit }); }
  nextSequence(nodeId: string, eventType: string) { return this.request('chain.next_sequence', { node_id: nodeId, event_type: eventType }); }

  /** Every event from `from` to the head, page by page. */
  async exportAll(from = 0, pageSize = EXPORT_MAX_LIMIT): Promise<WireEvent[]> {
    const out: WireEvent[] = [];
    let next: number | null = from;
    while (next !== null) {
      const page = await this.exportPage(next, pageSize);
      out.push(...page.events);
      next = page.next;
    }
    return out;
  }

  /**
   * Signs locally with `id` (the key never leaves this process) and appends. The sequence defaults to the node's
   * next free sequence for this author and type; the timestamp defaults to now.
   */
  async appendSigned(id: Identity, eventType: string, payload: Record<string, unknown>, opts: { sequence?: number; timestamp?: number } = {}) {
    const sequence = opts.sequence ?? (await this.nextSequence(id.nodeId, eventType)).sequence;
    return this.appendRouted(signAppend(id, eventType, payload, sequence, opts.timestamp ?? Date.now() / 1000));
  }

  dmDeposit(req: DepositRequest) { return this.request('dm.deposit', req); }
  // Mailbox requests are signed here with the agent's key (issue 8): the key never leaves this process, the agent is
  // its node id, the sequence the current time in ms (no counter needed) and the nonce 16 random bytes.
  dmCount(agent: Identity, claims: MailboxClaim[]) { return this.request('dm.count', signedMailboxRequest(agent, 'count', claims)); }
  dmPoll(agent: Identity, claims: MailboxClaim[], limit?: number) {
    return this.request('dm.poll', signedMailboxRequest(agent, 'poll', claims, limit === undefined ? {} : { limit }));
  }
  dmClaim(agent: Identity, claims: MailboxClaim[], msgIds: string[]) {
    return this.request('dm.claim', signedMailboxRequest(agent, 'claim', claims, { msg_ids: msgIds }));
  }
  dmPendingIds(agent: Identity, claims: MailboxClaim[]) { return this.request('dm.pending_ids', signedMailboxRequest(agent, 'pending_ids', claims)); }
  /** Block (or unblock) a sender for `recipient`'s mailboxes on this node (§7.5.1). */
  dmBlock(recipient: Identity, senderId: string, action: BlockAction = 'block') {
    return this.request('dm.block', signBlockRequest(recipient, { action, sender_id: senderId, timestamp: Date.now() / 1000, nonce: randomBytes(16).toString('hex'), sequence: nextSequence() }));
  }

  /** The node's events (all kinds, or one). Cold: subscribes on subscribe, unsubscribes on unsubscribe. */
  events$<K extends EventKind>(kind?: K): Observable<BusEvent<K>> {
    const subject = kind ? evtSubject(this.nodeId, kind) : evtWildcard(this.nodeId);
    return new Observable<BusEvent<K>>((observer) => {
      const sub = this.nc.subscribe(subject, {
        callback: (err, m) => {
          if (err) {
            observer.error(err);
            return;
          }
          const p = parseEvtSubject(m.subject);
          const d = decodeSafe<EventTypes[K]>(m.data);
          if (!p || !d.ok) return;
          observer.next({ kind: p.kind as K, node: p.node, subject: m.subject, body: d.value });
        },
      });
      void sub.closed.then(() => observer.complete(), (e: unknown) => observer.error(e));
      return () => sub.unsubscribe();
    });
  }

  /** Resolves once the event subscription(s) are registered with the server (use after subscribing). */
  flush(): Promise<void> {
    return this.nc.flush();
  }

  async close(): Promise<void> {
    if (this.ownsConnection && !this.nc.isClosed()) await this.nc.drain().catch(() => undefined);
  }
}

// The current time in ms, but strictly increasing within this process: two requests answered within one millisecond
// must not share a sequence (the node would refuse the second as a replay).
let lastSequence = 0;
const nextSequence = (): number => (lastSequence = Math.max(Date.now(), lastSequence + 1));

function signedMailboxRequest(agent: Identity, kind: MailboxAccessKind, claims: MailboxClaim[], extra: { limit?: number; msg_ids?: string[] } = {}) {
  return signMailboxRequest(agent, kind, { claims, timestamp: Date.now() / 1000, nonce: randomBytes(16).toString('hex'), sequence: nextSequence(), ...extra });
}
