// Outbound DM replication (issue 5): decides what goes to which peer; peer-link actors deliver it.
//
//   * Local deposits → one envelope per push peer (MESH_RELAY_PEERS, §8.3.2), queued durably BEFORE the deposit
//     is acknowledged: the outbox entries are written in the deposit's own atomic batch (planLocalDeposit), so one
//     fsync covers the mailbox write and every peer's entry. Replicas are never re-replicated (§7.8.11), and
//     chain-hydrated DMs are not pushed at all: every node hydrates them from the chain itself, so a push would
//     only repeat the original's O(nodes²) fleet-wide re-push.
//   * Claims of messages that came from / went to peers (origin local or replica) → one ack per push peer (§10.1);
//     acks received from peers are applied by the inbound side and never re-propagated.
//   * Polls → pull-from-peers (§10.2): ask the peers for the polled mailboxes at most once per mailbox per 30 s,
//     store answers through acceptReplica (caps apply), and wait a short bounded time so they can be returned by
//     this very poll; later answers are stored anyway and returned by the next poll.
// Per-peer failures stay inside that peer's link: the deposit only waits for its durable outbox write.
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { LocalDepositNotice, LocalDepositPlan, MailboxDomainEvent, MailboxRegistry, ReplicationHooks } from './mailbox-registry.js';
import type { ReplicaEnvelope } from '../protocol/mailbox-rules.js';
import type { Subscription } from 'rxjs';
import type { Clock } from '../protocol/clock.js';
import { isInfonetError } from '../protocol/errors.js';
import { sha256Hex, type MailboxClaim } from '../protocol/mailbox-keys.js';
import type { MailboxProof } from '../protocol/mailbox-access.js';
import { signPeerRequest } from '../protocol/peer-auth.js';
import { check, envelopeSchema } from '../protocol/peer-schemas.js';
import { normalizePeerUrl, parsePeerList, transportKind } from '../protocol/peer-url.js';
import type { PeerSettings } from '../protocol/settings.js';
import { messageName, type OutboxStore, type QueuedItem } from '../store/outbox-store.js';
import { pushTimeoutMs, responseJson } from '../protocol/peer-call.js';
import type { PeerCallResponse as TransportResponse, PeerPort, PeerRoute } from '../ports/peer.js';
import type { ReplicationStatus } from '../ports/status.js';
import { PeerLink, type RetryPolicy } from './peer-link-actor.js';
import { ReplicationMetrics } from './replication-metrics.js';

/** §10.2.1: a mailbox is pulled from peers at most this often. */
export const PULL_INTERVAL_S = 30;
/** How long a poll waits for pull answers before reading the local mailboxes. */
export const DEFAULT_PULL_WAIT_MS = 250;
/** Bounds (docs/bounds.md): claims remembered to cancel in-flight pushes; mailboxes remembered for the pull throttle;
 * pulls in flight at once (a poll beyond it reads local mailboxes only). */
export const RECENT_CLAIMS_MAX = 4096;
export const PULL_MEMORY_MAX = 10_000;
export const PENDING_PULLS_MAX = 64;

export interface ReplicatorOptions {
  mailboxes: MailboxRegistry;
  store: OutboxStore;
  /** The peer port (node/peer-transports.ts); owned and closed by the composition root. */
  transports: PeerPort;
  settings: PeerSettings;
  /** Relay message TTL (s): an envelope is given up when its message would have expired anyway. */
  messageTtlS: number;
  /** This node's advertised URL for HTTP peers (MESH_PUBLIC_PEER_URL), '' when it has none. */
  selfUrl: string;
  /** This node's URL on the bus (`nats://<node token>`), '' without a bus. */
  busSelfUrl?: string;
  clock: Clock;
  logger: Logger;
  metrics?: ReplicationMetrics;
  policy?: Partial<RetryPolicy>;
  pullWaitMs?: number;
  /** A peer answered a request with 200 (issue 8: successful contact clears that peer's sync ladder). */
  onPeerContact?: (peerUrl: string) => void;
  /** Overrides of the memory bounds (tests); defaults RECENT_CLAIMS_MAX, PULL_MEMORY_MAX, PENDING_PULLS_MAX. */
  bounds?: Partial<ReplicatorBounds>;
}

export interface ReplicatorBounds {
  recentClaims: number;
  pullMemory: number;
  pendingPulls: number;
}

export type { ReplicationStatus } from '../ports/status.js';

/** Why peer push cannot run, or null when it can. Naming the settings is the point (issue 5). */
export function pushConfigProblem(peers: readonly string[], selfUrlFor: (peer: string) => string, settings: PeerSettings): string | null {
  for (const p of peers) {
    try {
      signPeerRequest(selfUrlFor(p), '', settings);
    } catch (e) {
      const reason = isInfonetError(e) ? e.reason : String(e);
      return `peer push disabled: ${reason} (no built-in or default shared secret; configure MESH_PEER_PUSH_SECRET or MESH_PEER_SECRETS)`;
    }
  }
  return null;
}

/**
 * The push body of a local deposit's envelope (§8.3.1: compact JSON, the MAC covers these bytes). Built at deposit
 * time and rebuilt from the pending message after a restart, so both must come from here.
 * [tightening] recipient_token stays home: SHA-256(token) (the mailbox key) already names a shared mailbox
 * network-wide, and the token itself would let every peer read that mailbox.
 */
export function envelopeBody(envelope: ReplicaEnvelope): Buffer {
  return Buffer.from(JSON.stringify({ envelope: { ...envelope, recipient_token: '' } }), 'utf8');
}

export class Replicator {
  readonly metrics: ReplicationMetrics;
  readonly pushPeers: string[];
  private readonly links = new Map<string, PeerLink>();
  private readonly lastPull = new Map<string, number>();
  private readonly recentClaims = new Set<string>();
  private readonly pulls = new Set<Promise<void>>();
  private sub?: Subscription;
  private disabledReason = '';
  private stopped = false;
  private readonly bounds: ReplicatorBounds;

  private constructor(private readonly o: ReplicatorOptions) {
    this.metrics = o.metrics ?? new ReplicationMetrics();
    this.bounds = { recentClaims: RECENT_CLAIMS_MAX, pullMemory: PULL_MEMORY_MAX, pendingPulls: PENDING_PULLS_MAX, ...(o.bounds ?? {}) };
    const own = new Set([o.selfUrl, o.busSelfUrl ?? ''].filter(Boolean).map((u) => parsePeerList(u)[0]));
    this.pushPeers = parsePeerList(o.settings.relayPeers).filter((p) => !own.has(p));
  }

  /** Loads the outbox, starts one link per push peer and hooks into the registry. Never throws for config. */
  static async start(o: ReplicatorOptions): Promise<Replicator> {
    const r = new Replicator(o);
    if (r.pushPeers.length === 0) {
      r.disabledReason = 'no push peers (MESH_RELAY_PEERS is empty)';
      return r;
    }
    const problem = pushConfigProblem(r.pushPeers, (p) => r.selfUrlFor(p), o.settings);
    if (problem) {
      r.disabledReason = problem;
      o.logger.error({ peers: r.pushPeers }, problem);
      return r;
    }
    const { queued, gone } = await o.store.loadAll(async (wanted) => {
      const envs = await o.mailboxes.pendingEnvelopesOf(wanted.map((w) => ({ mailboxKey: w.source.mailbox_key, msgId: w.msgId, recipientId: w.source.recipient_id })));
      return envs.map((env) => (env ? envelopeBody(env) : null));
    });
    if (gone.length) {
      // Claimed or expired while the node was down: nothing left to push (an ack, if due, is queued on its own).
      o.logger.info({ items: gone.length }, 'dropping outbox envelopes whose message is no longer pending');
      await o.store.remove(gone);
    }
    for (const peer of r.pushPeers) {
      const snapshot = await o.store.loadLink(peer);
      r.links.set(peer, new PeerLink({
        peer, store: o.store, clock: o.clock, metrics: r.metrics.forPeer(peer), logger: o.logger, policy: o.policy,
        send: (route, body) => r.send(peer, route, body),
      }, queued.get(peer) ?? [], snapshot));
      queued.delete(peer);
    }
    // Items for peers no longer configured: the operator removed the peer, so its backlog goes too.
    const orphans = [...queued.values()].flat();
    if (orphans.length) {
      o.logger.warn({ items: orphans.length, peers: [...queued.keys()] }, 'dropping outbox items of peers no longer in MESH_RELAY_PEERS');
      await o.store.remove(orphans);
    }
    r.sub = o.mailboxes.events$.subscribe((e) => r.onMailboxEvent(e));
    o.mailboxes.setReplicationHooks(r.hooks());
    o.logger.info({ peers: r.pushPeers, backlog: [...r.links.values()].reduce((n, l) => n + l.queued, 0) }, 'replication started');
    return r;
  }

  get enabled(): boolean {
    return this.links.size > 0;
  }

  link(peer: string): PeerLink | undefined {
    return this.links.get(parsePeerList(peer)[0] ?? peer);
  }

  /** The URL this node signs with towards `peer` (§8.2.5: the sender's own URL). */
  selfUrlFor(peer: string): string {
    if (transportKind(peer) !== 'bus') return this.o.selfUrl;
    // A node advertising a nats:// URL signs with exactly that spelling (peers allowlist it verbatim).
    return transportKind(normalizePeerUrl(this.o.selfUrl)) === 'bus' ? this.o.selfUrl : this.o.busSelfUrl ?? '';
  }

  hooks(): ReplicationHooks {
    return {
      planLocalDeposit: (n, env) => this.planLocalDeposit(n, env),
      beforePoll: (agentId, claims, proof) => this.beforePoll(agentId, claims, proof),
    };
  }

  // ------------------------------------------------------------------------------------------ push

  /**
   * The outbox entries (one per push peer) for a just-accepted local deposit, as ops for the deposit's own batch;
   * once that batch is durable the items are handed to the peer links.
   */
  planLocalDeposit(n: LocalDepositNotice, envelope: ReplicaEnvelope): LocalDepositPlan | undefined {
    if (!this.enabled || this.stopped) return undefined;
    const now = this.o.clock();
    // The body is not stored: the mailbox record in the same batch holds the message it is rebuilt from.
    const { items, ops } = this.o.store.prepare([...this.links.keys()], {
      kind: 'envelope', msg_id: envelope.msg_id, body: envelopeBody(envelope), attempts: 0, next_attempt_at: 0, created_at: now,
      expires_at: envelope.timestamp + this.o.messageTtlS,
      source: { mailbox_key: n.mailbox_key, ...(n.recipient_id ? { recipient_id: n.recipient_id } : {}) },
    });
    return {
      ops,
      committed: async () => {
        this.metrics.inc('dm_replication_enqueued', items.length);
        if (this.stopped) return; // durable: the next start sends them
        if (this.recentClaims.has(messageName(n.mailbox_key, n.msg_id))) {
          // Claimed while the deposit's write was in flight: the ack path found nothing to cancel yet.
          await this.o.store.remove(items).catch((e: unknown) => this.o.logger.error({ err: String(e), msg_id: n.msg_id }, 'could not drop outbox items'));
          return;
        }
        this.distribute(items);
      },
    };
  }

  private onMailboxEvent(e: MailboxDomainEvent): void {
    if (e.type !== 'claimed' || this.stopped) return;
    if (e.origin === 'chain') return; // chain DMs are on every node's chain; nobody was pushed a copy
    this.rememberClaim(messageName(e.mailbox_key, e.msg_id));
    const ack: Record<string, unknown> = { msg_id: e.msg_id, delivery_class: e.delivery_class };
    if (e.delivery_class === 'shared') ack.recipient_token_hash = e.mailbox_key;
    else if (e.recipient_id) ack.recipient_id = e.recipient_id;
    else return; // a request mailbox without a recipient id cannot be named on other nodes
    const peers = [...this.links.values()].filter((l) => !l.cancelUnsentEnvelope(e.msg_id, e.mailbox_key)).map((l) => l.peer);
    const cancelled = this.links.size - peers.length;
    if (cancelled) this.metrics.inc('dm_ack_cancelled_envelope', cancelled);
    // Issue 8: a peer deletes its copy only for the recipient's signed poll (docs/mailbox-access.md); a trusted
    // in-process poll has none, and its copies elsewhere simply expire.
    if (!e.proof) return;
    ack.proof = e.proof;
    if (peers.length === 0) return;
    const now = this.o.clock();
    void this.o.store.enqueue(peers, {
      kind: 'ack', msg_id: e.msg_id, body: Buffer.from(JSON.stringify(ack), 'utf8'), attempts: 0, next_attempt_at: 0,
      created_at: now, expires_at: now + this.o.messageTtlS,
    }).then((items) => {
      this.metrics.inc('dm_ack_enqueued', items.length);
      this.distribute(items);
    }, (err: unknown) => this.o.logger.error({ err: String(err) }, 'could not queue ack'));
  }

  /** `name`: messageName(mailbox, msg_id) — msg ids are only unique per mailbox. */
  private rememberClaim(name: string): void {
    this.recentClaims.add(name);
    if (this.recentClaims.size > this.bounds.recentClaims) this.recentClaims.delete(this.recentClaims.values().next().value as string);
  }

  private distribute(items: QueuedItem[]): void {
    const byPeer = new Map<string, QueuedItem[]>();
    for (const it of items) {
      let l = byPeer.get(it.peer);
      if (!l) byPeer.set(it.peer, (l = []));
      l.push(it);
    }
    for (const [peer, list] of byPeer) this.links.get(peer)?.add(list);
  }

  /** Signs (§8.2, sender's own URL) and hands the bytes to the transport layer. */
  private send(peer: string, route: PeerRoute, body: Uint8Array): Promise<TransportResponse> {
    let headers: Record<string, string>;
    try {
      headers = { ...signPeerRequest(this.selfUrlFor(peer), body, this.o.settings) };
    } catch (e) {
      return Promise.reject(e);
    }
    const sent = this.o.transports.send({ peer, route, body, headers, timeoutMs: pushTimeoutMs(peer, this.o.settings.relayPushTimeoutS) });
    const contact = this.o.onPeerContact;
    return contact ? sent.then((r) => { if (r.status === 200) contact(peer); return r; }) : sent;
  }

  // ------------------------------------------------------------------------------------------ pull

  /** §10.2 pull-from-peers for the mailboxes a poll opens; waits at most pullWaitMs for answers. */
  async beforePoll(agentId: string, claims: readonly MailboxClaim[], proof?: MailboxProof): Promise<void> {
    // Issue 8: peers answer a pull only with the recipient's signed poll as proof; without one there is nothing to ask.
    if (!this.enabled || this.stopped || !proof) return;
    const now = this.o.clock();
    const due: Array<Record<string, string>> = [];
    const dueKeys = new Set<string>();
    for (const c of claims) {
      let d: Record<string, string> | null = null;
      if (c.type === 'shared' && c.token) d = { delivery_class: 'shared', recipient_token_hash: sha256Hex(c.token) };
      else if (c.type === 'requests' && agentId) d = { delivery_class: 'request', recipient_id: agentId };
      if (!d) continue;
      // Hashed so an outsider's long agent ids cannot make the throttle memory large (issue 8 item 3).
      const k = sha256Hex(`${d.delivery_class}|${d.recipient_token_hash ?? d.recipient_id}`);
      if (dueKeys.has(k)) continue;
      dueKeys.add(k);
      const last = this.lastPull.get(k);
      if (last !== undefined && now - last < PULL_INTERVAL_S) {
        this.metrics.inc('dm_pull_throttled');
        continue;
      }
      this.lastPull.delete(k); // re-insert: Map order is oldest-first for the bound below
      this.lastPull.set(k, now);
      due.push(d);
    }
    this.trimPullMemory();
    if (due.length === 0) return;
    if (this.pulls.size >= this.bounds.pendingPulls) {
      this.metrics.inc('dm_pull_throttled');
      return;
    }
    const body = Buffer.from(JSON.stringify({ mailboxes: due, proof }), 'utf8');
    const all = Promise.all([...this.links.keys()].map((peer) => this.pullFrom(peer, body))).then(() => undefined);
    this.pulls.add(all);
    void all.finally(() => this.pulls.delete(all));
    const waitMs = this.o.pullWaitMs ?? DEFAULT_PULL_WAIT_MS;
    const wait = new AbortController();
    await Promise.race([all, delay(waitMs, undefined, { signal: wait.signal }).catch(() => undefined)]);
    wait.abort();
  }

  private async pullFrom(peer: string, body: Uint8Array): Promise<void> {
    this.metrics.inc('dm_pull_requests');
    let r: TransportResponse;
    try {
      r = await this.send(peer, 'dm/pull', body);
    } catch (e) {
      this.metrics.inc('dm_pull_errors');
      this.o.logger.debug({ peer, err: (e as Error)?.message }, 'pull failed');
      return;
    }
    const json = responseJson(r) as { ok?: unknown; envelopes?: unknown } | undefined;
    if (r.status !== 200 || !json || json.ok === false || !Array.isArray(json.envelopes)) {
      this.metrics.inc('dm_pull_errors');
      return;
    }
    this.metrics.inc('dm_pull_envelopes', json.envelopes.length);
    for (const raw of json.envelopes) {
      if (this.stopped) return;
      const env = check(envelopeSchema, raw, 'envelope');
      if (!env.ok) {
        this.metrics.inc('dm_pull_errors');
        continue;
      }
      try {
        const res = await this.o.mailboxes.acceptReplica(env.value, peer);
        if (!res.duplicate) this.metrics.inc('dm_pull_accepted');
      } catch (e) {
        if (!isInfonetError(e)) throw e; // caps, full mailbox, block list: the replica is refused here
      }
    }
  }

  /** Oldest entries go first; an evicted mailbox can at worst be pulled again before its 30 s are up. */
  private trimPullMemory(): void {
    for (const k of this.lastPull.keys()) {
      if (this.lastPull.size <= this.bounds.pullMemory) return;
      this.lastPull.delete(k);
    }
  }

  /** Sizes of the bounded memories (tests, status). */
  get memory(): { lastPull: number; recentClaims: number; pendingPulls: number } {
    return { lastPull: this.lastPull.size, recentClaims: this.recentClaims.size, pendingPulls: this.pulls.size };
  }

  // ------------------------------------------------------------------------------------ lifecycle

  /** Explicit trigger: every link retries now, ignoring backoff (tests, operators). */
  retryNow(): void {
    for (const l of this.links.values()) l.retryNow();
  }

  /** Resolves once every link has nothing queued or in flight. */
  async whenIdle(): Promise<void> {
    await Promise.all([...this.links.values()].map((l) => l.whenIdle()));
  }

  status(): ReplicationStatus {
    return {
      enabled: this.enabled,
      ...(this.disabledReason ? { reason: this.disabledReason } : {}),
      peers: [...this.links.values()].map((l) => ({
        url: l.peer, state: l.state, queued: l.queued, failures: l.context.failures, retry_at: l.context.retryAt, last_error: l.lastError,
      })),
      metrics: this.metrics.snapshot(),
      by_transport: this.metrics.byTransport(),
    };
  }

  /** Stops links and hooks; queued items stay in the outbox for the next start. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.o.mailboxes.setReplicationHooks(undefined);
    this.sub?.unsubscribe();
    for (const l of this.links.values()) l.stop();
    // Pulls still in flight are not awaited (a hung peer could hold the stop for the whole timeout); they
    // see `stopped` and store nothing. The composition root closes the transports right after this stop.
  }
}
