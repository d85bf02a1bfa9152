// One actor per peer link (issue 5): drains that peer's durable outbox through the transport layer.
//
// The XState machine owns the link's timing — `ready` (sending; optionally waiting for the earliest
// not-yet-due item) and `backoff` (after a transport failure or a 429) — with every deadline kept as an
// ABSOLUTE clock time in context. XState does not re-arm `after` delays on restore (toolchain notes), so a
// restored link is sent RESUME and recomputes each delay from the clock. The PeerLink class around it does the
// I/O: it picks due items in FIFO order, hands signed bodies to the transport, and turns answers into events.
//
// Delivery rules (§8.3 with the §8.3.7 tightening, §10.1):
//   * 200 and not ok:false → delivered (…_ok); 200 ok:false or another 4xx → refused, dropped (…_rejected);
//   * 429 → the whole link waits max(Retry-After, 1 s); the item stays queued (…_rate_limited);
//   * unreachable / timeout / 5xx → …_error, the link backs off exponentially and probes with ONE request
//     until the peer answers again (a dead peer costs one attempt per backoff step, not one per item);
//   * policy refusals (clearnet peer in private mode, no transport) → …_error, dropped (retrying cannot help);
//   * an item is dropped at its expiry (relay TTL) or after maxAttempts (…_expired).
// Batching: an idle healthy link sends a lone due envelope at once on the single route (§8.4, interop). Several due
// envelopes share requests on the batch route `dm/replicate-envelopes` (≤ 64 items, ≤ 512 KiB; per-item results, each
// item settled like a single request); while a request is in flight, further envelopes wait for its answer unless at
// least half a batch is due, so under load the link sends few, full requests (the window still bounds them). A peer
// that answers the batch route with 404/405/413 or without per-item results is sent singles for the next 10 minutes.
// A probe of a failing peer is always one envelope on the single route.
// A link never blocks another: each has its own queue, timers and in-flight window.
import { assign, createActor, setup, type Actor } from 'xstate';
import type { Logger } from 'pino';
import type { Clock } from '../protocol/clock.js';
import { messageName, type OutboxStore, type QueuedItem } from '../store/outbox-store.js';
import { isRetryableTransportError, responseJson } from '../protocol/peer-call.js';
import { ACK_MAX_BYTES } from '../protocol/peer-routes.js';
import type { PeerCallResponse as TransportResponse, PeerRoute } from '../ports/peer.js';
import type { ReplicationMetrics } from './replication-metrics.js';
import { unrefClock } from '../protocol/unref-clock.js';

export interface RetryPolicy {
  /** First backoff step (s); doubles per consecutive failure. */
  baseS: number;
  /** Backoff ceiling (s). */
  capS: number;
  /** Attempts after which an item is given up even before it expires. */
  maxAttempts: number;
  /**
   * Requests in flight per link while the peer is healthy. 4 (was 16): under load the envelopes that queue behind
   * in-flight requests share the next request, so fewer, larger batches carry the same DMs (issue 14: ~4.5 → ~19
   * envelopes per request in bench:replication; ~50 once a busy link waits for half a batch, see pump()).
   */
  window: number;
  /** Acks per `POST /api/mesh/dm/ack` (§10.1: ≤ 100). */
  maxAcksPerRequest: number;
  /** Envelopes per `POST /api/mesh/dm/replicate-envelopes` (the route takes ≤ 64); 1 disables batching. */
  maxBatch: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { baseS: 1, capS: 60, maxAttempts: 60, window: 4, maxAcksPerRequest: 100, maxBatch: 64 };

/** Batch bodies stay under the route's 512 KiB limit. */
export const MAX_BATCH_BODY_BYTES = 512 * 1024;
/** How long a peer that does not serve the batch route is sent singles only (s). */
export const BATCH_UNSUPPORTED_RETRY_S = 600;

/** `min(base × 2^(failures−1), cap)` seconds. */
export const backoffS = (failures: number, p: Pick<RetryPolicy, 'baseS' | 'capS'>): number =>
  Math.min(p.baseS * 2 ** Math.min(Math.max(failures - 1, 0), 30), p.capS);

// ---------------------------------------------------------------------------------------------- machine

export interface LinkContext {
  peer: string;
  /** Consecutive failed attempts (reset by any answer). */
  failures: number;
  /** Absolute time (s) the backoff ends; 0 when not backing off. */
  retryAt: number;
  /** Absolute time (s) the earliest waiting item becomes due; null when none. */
  wakeAt: number | null;
}

export type LinkEvent =
  | { type: 'KICK' }
  | { type: 'RESUME' }
  | { type: 'RETRY_NOW' }
  | { type: 'SCHEDULE'; wakeAt: number | null }
  | { type: 'ANSWERED' }
  | { type: 'FAILED'; retryAt: number }
  | { type: 'RATE_LIMITED'; retryAt: number }
  | { type: 'STOP' };

const MAX_TIMER_MS = 2 ** 31 - 1;

export function createPeerLinkMachine(clock: Clock, pump: () => void) {
  const msUntil = (t: number | null): number => (t === null ? MAX_TIMER_MS : Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil((t - clock()) * 1000))));
  return setup({
    types: {} as { context: LinkContext; events: LinkEvent; input: { peer: string } },
    guards: { hasWake: ({ context }) => context.wakeAt !== null },
    delays: {
      untilWake: ({ context }) => msUntil(context.wakeAt),
      untilRetry: ({ context }) => msUntil(context.retryAt),
    },
    actions: {
      // Deferred: the pump sends events back into this actor.
      pump: () => queueMicrotask(pump),
    },
  }).createMachine({
    id: 'peerLink',
    context: ({ input }) => ({ peer: input.peer, failures: 0, retryAt: 0, wakeAt: null }),
    initial: 'ready',
    on: { STOP: '.stopped' },
    states: {
      ready: {
        entry: 'pump',
        initial: 'route',
        on: {
          KICK: { actions: 'pump' },
          RESUME: { target: 'ready', reenter: true },
          RETRY_NOW: { target: 'ready', reenter: true, actions: assign({ wakeAt: null }) },
          SCHEDULE: { target: '.route', actions: assign({ wakeAt: ({ event }) => event.wakeAt }) },
          ANSWERED: { actions: [assign({ failures: 0 }), 'pump'] },
          FAILED: { target: 'backoff', actions: assign({ failures: ({ context }) => context.failures + 1, retryAt: ({ event }) => event.retryAt }) },
          RATE_LIMITED: { target: 'backoff', actions: assign({ retryAt: ({ event }) => event.retryAt }) },
        },
        states: {
          route: { always: [{ guard: 'hasWake', target: 'timed' }, { target: 'idle' }] },
          idle: {},
          timed: { after: { untilWake: { target: '#peerLink.ready', reenter: true, actions: assign({ wakeAt: null }) } } },
        },
      },
      backoff: {
        after: { untilRetry: { target: 'ready', actions: assign({ retryAt: 0 }) } },
        on: {
          RESUME: { target: 'backoff', reenter: true },
          RETRY_NOW: { target: 'ready', actions: assign({ retryAt: 0, wakeAt: null }) },
          // In-flight requests that end while backing off: failures only push the deadline out.
          FAILED: { target: 'backoff', reenter: true, actions: assign({ failures: ({ context }) => context.failures + 1, retryAt: ({ context, event }) => Math.max(context.retryAt, event.retryAt) }) },
          RATE_LIMITED: { target: 'backoff', reenter: true, actions: assign({ retryAt: ({ context, event }) => Math.max(context.retryAt, event.retryAt) }) },
          ANSWERED: { actions: assign({ failures: 0 }) },
        },
      },
      stopped: { type: 'final' },
    },
  });
}

export type PeerLinkMachine = ReturnType<typeof createPeerLinkMachine>;


// ------------------------------------------------------------------------------------------- the link

export interface PeerLinkDeps {
  peer: string;
  store: OutboxStore;
  /** Signs and sends one body to this peer (replication layer: HMAC + transport set). */
  send(route: PeerRoute, body: Uint8Array): Promise<TransportResponse>;
  clock: Clock;
  metrics: ReplicationMetrics;
  logger: Logger;
  policy?: Partial<RetryPolicy>;
}

type Outcome =
  | { kind: 'ok' }
  | { kind: 'rejected'; detail: string }
  | { kind: 'rate_limited'; retryAfterS: number }
  | { kind: 'retry'; detail: string }
  | { kind: 'drop'; detail: string };

const ACKS_PREFIX = Buffer.from('{"acks":[', 'utf8');
const ACKS_SUFFIX = Buffer.from(']}', 'utf8');
/** Issue 8: ack items carry the recipient's signed poll (~0.6 KB each), so requests are also cut by size. */
const ACK_BODY_BASE = ACKS_PREFIX.length + ACKS_SUFFIX.length;
const ENVELOPE_PREFIX = Buffer.from('{"envelope":', 'utf8');
const ENVELOPES_PREFIX = Buffer.from('{"envelopes":[', 'utf8');
const COMMA = Buffer.from(',', 'utf8');

/** The raw envelope JSON inside a queued `{"envelope":…}` body, or null when the body has another shape. */
function envelopeBytes(body: Uint8Array): Uint8Array | null {
  const n = ENVELOPE_PREFIX.length;
  if (body.length < n + 3 || body[body.length - 1] !== 0x7d) return null;
  for (let i = 0; i < n; i++) if (body[i] !== ENVELOPE_PREFIX[i]) return null;
  return body.subarray(n, body.length - 1);
}

const envelopeName = (it: QueuedItem): string => messageName(it.source?.mailbox_key ?? '', it.msg_id);

export class PeerLink {
  readonly peer: string;
  private readonly queue = new Map<string, QueuedItem>();
  private readonly inFlight = new Set<string>();
  /** msg_ids whose envelope is in flight: their acks wait (an ack must not overtake its envelope). */
  private readonly envelopesInFlight = new Set<string>();
  private requests = 0;
  private stopped = false;
  /** Clock time (s) until which this peer gets singles only (it did not serve the batch route). */
  private batchOffUntil = 0;
  private readonly policy: RetryPolicy;
  private readonly actor: Actor<PeerLinkMachine>;
  private readonly idleWaiters: Array<() => void> = [];
  lastError = '';
  /** Queue items pump() has looked at, ever (for tests: the work of scanning, not a timing). */
  scanVisits = 0;
  /**
   * messageName(mailbox, msg_id) → queue key of this link's envelope for that message (a claim cancels an unsent
   * envelope without a scan); items stored by older versions name no mailbox and are found under messageName('', msg_id).
   */
  private readonly envelopeKeys = new Map<string, string>();

  constructor(private readonly deps: PeerLinkDeps, items: readonly QueuedItem[] = [], snapshot?: unknown) {
    this.peer = deps.peer;
    this.policy = { ...DEFAULT_RETRY_POLICY, ...deps.policy };
    for (const it of items) this.enqueue(it);
    const machine = createPeerLinkMachine(deps.clock, () => this.schedulePump());
    this.actor = createActor(machine, {
      input: { peer: this.peer },
      clock: unrefClock as never,
      ...(snapshot ? { snapshot: snapshot as never } : {}),
    });
    this.actor.start();
    if (snapshot) this.actor.send({ type: 'RESUME' });
  }

  get state(): string {
    const v = this.actor.getSnapshot().value;
    return typeof v === 'string' ? v : Object.keys(v)[0];
  }

  get context(): LinkContext {
    return this.actor.getSnapshot().context;
  }

  get queued(): number {
    return this.queue.size;
  }

  /** Items just made durable for this peer. */
  add(items: readonly QueuedItem[]): void {
    if (this.stopped) return;
    for (const it of items) this.enqueue(it);
    // Same as a KICK event (ready: pump; backoff: nothing), without a machine step per deposit; many adds in one
    // tick (one group commit's worth of deposits) share one pump.
    if (this.state === 'ready') this.schedulePump();
  }

  /**
   * §10.1 ordering: an ack for a message whose envelope has not left yet cancels both (the peer never
   * held it). Returns true when that happened, so the caller does not queue the ack for this peer.
   */
  cancelUnsentEnvelope(msgId: string, mailboxKey: string): boolean {
    const key = this.envelopeKeys.get(messageName(mailboxKey, msgId)) ?? this.envelopeKeys.get(messageName('', msgId));
    const it = key === undefined ? undefined : this.queue.get(key);
    if (!it || this.inFlight.has(it.key)) return false;
    this.dequeue(it);
    void this.deps.store.remove([it]).catch(() => undefined);
    return true;
  }

  private enqueue(it: QueuedItem): void {
    this.queue.set(it.key, it);
    if (it.kind === 'envelope') this.envelopeKeys.set(envelopeName(it), it.key);
  }

  private dequeue(it: QueuedItem): void {
    this.queue.delete(it.key);
    if (it.kind !== 'envelope') return;
    const name = envelopeName(it);
    if (this.envelopeKeys.get(name) === it.key) this.envelopeKeys.delete(name);
  }

  /** Explicit trigger (tests, operator): ignore backoff and item deadlines now. */
  retryNow(): void {
    for (const it of this.queue.values()) it.next_attempt_at = 0;
    this.actor.send({ type: 'RETRY_NOW' });
  }

  /** Resolves once nothing is queued or in flight (tests and benchmarks). */
  async whenIdle(): Promise<void> {
    if (this.queue.size || this.requests) await new Promise<void>((r) => this.idleWaiters.push(r));
    await this.deps.store.committer.drain(); // removals of delivered items are on disk too
  }

  /** Stops sending. In-flight answers are ignored; their items stay durable and go out after the next start. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.actor.send({ type: 'STOP' });
    this.actor.stop();
  }

  // ----------------------------------------------------------------------------------------- pump

  private pumpQueued = false;

  /** Runs pump() once at the end of this tick however often it is asked for (the machine's `pump` action too). */
  private schedulePump(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    queueMicrotask(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  private pump(): void {
    if (this.stopped || this.state !== 'ready') return;
    const now = this.deps.clock();
    const probing = this.context.failures > 0;
    const window = probing ? 1 : this.policy.window;
    let wakeAt: number | null = null;
    const expired: QueuedItem[] = [];
    const due: QueuedItem[] = [];
    let dueEnvelopes = 0;

    // The scan stops once it holds enough due items to fill the free window: a pump runs after every answer, and a
    // backlog of N items (a peer back after an outage) scanned whole each time cost O(N²) to drain (issue 14). What
    // it did not reach (later deadlines, expiries) is seen by a later pump; its wake-up stays as it was.
    const wanted = Math.max(0, window - this.requests) * Math.max(this.policy.maxBatch, this.policy.maxAcksPerRequest);
    let complete = true;
    for (const it of this.queue.values()) {
      if (due.length >= wanted) {
        complete = false;
        break;
      }
      this.scanVisits++;
      if (this.inFlight.has(it.key)) continue;
      if (now >= it.expires_at || it.attempts >= this.policy.maxAttempts) {
        expired.push(it);
        continue;
      }
      if (it.next_attempt_at > now) {
        wakeAt = wakeAt === null ? it.next_attempt_at : Math.min(wakeAt, it.next_attempt_at);
        continue;
      }
      due.push(it);
      if (it.kind === 'envelope') dueEnvelopes++;
    }

    const batching = !probing && this.policy.maxBatch > 1 && now >= this.batchOffUntil;
    const busyBatchMin = Math.max(2, Math.ceil(this.policy.maxBatch / 2));
    let acks: QueuedItem[] = [];
    let ackBytes = ACK_BODY_BASE;
    const taken = new Set<QueuedItem>();
    for (let i = 0; i < due.length; i++) {
      if (this.requests >= window) break;
      const it = due[i];
      if (taken.has(it)) continue;
      if (it.kind === 'envelope') {
        // While a request is in flight, envelopes wait for its answer (which pumps again) unless a well-filled batch
        // is ready: fewer, fuller requests carry the same DMs (each request costs both sides a round of HTTP, HMAC,
        // JSON and a group commit; issue 14). An idle link sends at once: one envelope alone on the single route.
        if (batching && this.requests > 0 && dueEnvelopes < busyBatchMin) continue;
        const per = batching ? Math.min(this.policy.maxBatch, dueEnvelopes) : 1;
        const chunk = per > 1 ? this.takeBatch(due, i, per, taken) : null;
        if (chunk && chunk.items.length > 1) {
          dueEnvelopes -= chunk.items.length;
          this.dispatch('dm/replicate-envelopes', chunk.items, chunk.body);
        } else {
          dueEnvelopes--;
          taken.add(it);
          this.dispatch('dm/replicate-envelope', [it], it.body);
        }
      } else if (!this.envelopesInFlight.has(it.msg_id)) {
        if (acks.length && ackBytes + it.body.length + 1 > ACK_MAX_BYTES) {
          this.dispatchAcks(acks);
          acks = [];
          ackBytes = ACK_BODY_BASE;
          if (this.requests >= window) break;
        }
        acks.push(it);
        ackBytes += it.body.length + 1;
        if (acks.length >= this.policy.maxAcksPerRequest) {
          this.dispatchAcks(acks);
          acks = [];
          ackBytes = ACK_BODY_BASE;
        }
      }
    }
    if (acks.length) this.dispatchAcks(acks);
    if (expired.length) this.drop(expired);
    if (complete && wakeAt !== this.context.wakeAt) this.actor.send({ type: 'SCHEDULE', wakeAt });
    this.checkIdle();
  }

  /** Up to `max` due envelopes from `due[from]` on, in FIFO order, within the batch body limit. */
  private takeBatch(due: QueuedItem[], from: number, max: number, taken: Set<QueuedItem>): { items: QueuedItem[]; body: Buffer } | null {
    const items: QueuedItem[] = [];
    const parts: Uint8Array[] = [ENVELOPES_PREFIX];
    let size = ENVELOPES_PREFIX.length + 2;
    for (let j = from; j < due.length && items.length < max; j++) {
      const it = due[j];
      if (it.kind !== 'envelope' || taken.has(it)) continue;
      const env = envelopeBytes(it.body);
      if (!env) {
        if (items.length === 0) return null; // an odd body goes alone on the single route
        continue;
      }
      if (size + env.length + 1 > MAX_BATCH_BODY_BYTES) break;
      if (items.length) parts.push(COMMA);
      parts.push(env);
      size += env.length + (items.length ? 1 : 0);
      items.push(it);
    }
    if (items.length < 2) return null;
    for (const it of items) taken.add(it);
    parts.push(ACKS_SUFFIX);
    return { items, body: Buffer.concat(parts) };
  }

  private dispatchAcks(acks: QueuedItem[]): void {
    const parts: Buffer[] = [ACKS_PREFIX];
    acks.forEach((a, i) => {
      if (i) parts.push(Buffer.from(','));
      parts.push(Buffer.from(a.body));
    });
    parts.push(ACKS_SUFFIX);
    this.dispatch('dm/ack', acks, Buffer.concat(parts));
  }

  private dispatch(route: PeerRoute, items: QueuedItem[], body: Uint8Array): void {
    this.requests++;
    for (const it of items) {
      this.inFlight.add(it.key);
      it.attempts++;
      if (it.kind === 'envelope') this.envelopesInFlight.add(it.msg_id);
    }
    if (route === 'dm/replicate-envelopes') {
      const started = this.deps.send(route, body).then((r) => this.classifyBatch(r, items.length), (e: unknown) => this.classifyError(e));
      void started.then((o) => ('perItem' in o || 'unsupported' in o ? this.settleBatch(items, o) : this.settle(items, o)));
      return;
    }
    const started = this.deps.send(route, body).then((r) => this.classify(r), (e: unknown) => this.classifyError(e));
    void started.then((o) => this.settle(items, o));
  }

  /** A batch answer: per-item outcomes, a whole-request outcome (429, 5xx, 403 …), or "peer has no batch route". */
  private classifyBatch(r: TransportResponse, n: number): Outcome | { perItem: Outcome[] } | { unsupported: string } {
    if (r.status === 404 || r.status === 405 || r.status === 413) return { unsupported: `http_${r.status}` };
    if (r.status !== 200) return this.classify(r);
    const json = responseJson(r) as { ok?: unknown; detail?: unknown; results?: unknown } | undefined;
    const results = json?.results;
    if (!Array.isArray(results) || results.length !== n) {
      // ok:false with a detail is the route refusing the batch as a whole (e.g. too many items): still unusable here.
      return { unsupported: typeof json?.detail === 'string' ? json.detail.slice(0, 200) : 'no per-item results' };
    }
    return {
      perItem: results.map((x): Outcome => {
        const o = x as { ok?: unknown; detail?: unknown } | null;
        if (o && typeof o === 'object' && o.ok !== false) return { kind: 'ok' };
        const d = o && typeof o === 'object' && typeof o.detail === 'string' ? o.detail.slice(0, 200) : '';
        return { kind: 'rejected', detail: d || 'ok:false' };
      }),
    };
  }

  private settleBatch(items: QueuedItem[], o: { perItem: Outcome[] } | { unsupported: string }): void {
    this.requests--;
    for (const it of items) {
      this.inFlight.delete(it.key);
      this.envelopesInFlight.delete(it.msg_id);
    }
    if (this.stopped) return;
    const m = this.deps.metrics;
    if ('unsupported' in o) {
      // Not a verdict on the items: they go again, one per request on the single route.
      m.inc('dm_replication_batch_fallback');
      this.batchOffUntil = this.deps.clock() + BATCH_UNSUPPORTED_RETRY_S;
      this.deps.logger.info({ peer: this.peer, why: o.unsupported }, 'peer does not take batched envelopes; sending singles');
      for (const it of items) it.attempts = Math.max(0, it.attempts - 1);
      this.actor.send({ type: 'KICK' });
      return;
    }
    m.inc('dm_replication_batches');
    const done: QueuedItem[] = [];
    o.perItem.forEach((r, i) => {
      if (r.kind === 'ok') m.inc('dm_replication_push_ok');
      else {
        m.inc('dm_replication_push_rejected');
        if (r.kind === 'rejected') this.lastError = r.detail;
      }
      done.push(items[i]);
    });
    this.finish(done);
    this.answered();
    this.checkIdle();
  }

  /**
   * The peer answered. ANSWERED only resets the failure count (and pumps when ready); with no failures to reset the
   * machine step is skipped and the link just pumps — one step less per request on a healthy link.
   */
  private answered(): void {
    if (this.context.failures !== 0) this.actor.send({ type: 'ANSWERED' });
    else if (this.state === 'ready') this.schedulePump();
  }

  private classify(r: TransportResponse): Outcome {
    if (r.status === 429) return { kind: 'rate_limited', retryAfterS: r.retryAfterS ?? 0 };
    const json = responseJson(r) as { ok?: unknown; detail?: unknown } | undefined;
    const detail = typeof json?.detail === 'string' ? json.detail.slice(0, 200) : '';
    if (r.status === 200) return json && json.ok === false ? { kind: 'rejected', detail: detail || 'ok:false' } : { kind: 'ok' };
    const text = detail || Buffer.from(r.body).toString('utf8').slice(0, 200);
    // [tightening] a 5xx is the peer's trouble, not a verdict on the item: retried like an unreachable peer.
    if (r.status >= 500) return { kind: 'retry', detail: `http_${r.status}: ${text}` };
    return { kind: 'rejected', detail: `http_${r.status}: ${text}` };
  }

  private classifyError(e: unknown): Outcome {
    const msg = (e as Error)?.message ?? String(e);
    return isRetryableTransportError(e) ? { kind: 'retry', detail: msg } : { kind: 'drop', detail: msg };
  }

  private settle(items: QueuedItem[], o: Outcome): void {
    this.requests--;
    for (const it of items) {
      this.inFlight.delete(it.key);
      if (it.kind === 'envelope') this.envelopesInFlight.delete(it.msg_id);
    }
    if (this.stopped) return;
    const isAck = items[0].kind === 'ack';
    const m = this.deps.metrics;
    const n = items.length;
    const now = this.deps.clock();
    switch (o.kind) {
      case 'ok':
        m.inc(isAck ? 'dm_ack_push_ok' : 'dm_replication_push_ok', n);
        this.finish(items);
        this.answered();
        break;
      case 'rejected':
        m.inc(isAck ? 'dm_ack_push_rejected' : 'dm_replication_push_rejected', n);
        this.lastError = o.detail;
        this.finish(items);
        this.answered();
        break;
      case 'drop':
        m.inc(isAck ? 'dm_ack_push_error' : 'dm_replication_push_error', n);
        this.lastError = o.detail;
        this.deps.logger.warn({ peer: this.peer, err: o.detail }, 'replication item dropped');
        this.finish(items);
        this.actor.send({ type: 'KICK' });
        break;
      case 'rate_limited': {
        m.inc('dm_replication_push_rate_limited', n);
        const retryAt = now + Math.max(1, o.retryAfterS);
        this.reschedule(items, retryAt);
        this.actor.send({ type: 'RATE_LIMITED', retryAt });
        this.persistLink();
        break;
      }
      case 'retry': {
        m.inc(isAck ? 'dm_ack_push_error' : 'dm_replication_push_error', n);
        this.lastError = o.detail;
        const retryAt = now + backoffS(this.context.failures + 1, this.policy);
        this.reschedule(items, retryAt);
        this.actor.send({ type: 'FAILED', retryAt });
        this.persistLink();
        break;
      }
    }
    this.checkIdle();
  }

  private finish(items: QueuedItem[]): void {
    for (const it of items) this.dequeue(it);
    void this.deps.store.remove(items).catch((e: unknown) => this.deps.logger.error({ peer: this.peer, err: String(e) }, 'outbox remove failed'));
  }

  private reschedule(items: QueuedItem[], at: number): void {
    for (const it of items) {
      it.next_attempt_at = at;
      void this.deps.store.update(it).catch(() => undefined);
    }
  }

  private drop(items: QueuedItem[]): void {
    for (const it of items) this.deps.metrics.inc(it.kind === 'ack' ? 'dm_ack_push_expired' : 'dm_replication_push_expired');
    this.finish(items);
  }

  private persistLink(): void {
    void this.deps.store.saveLink(this.peer, this.actor.getPersistedSnapshot()).catch(() => undefined);
  }

  private checkIdle(): void {
    if (this.queue.size || this.requests) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
