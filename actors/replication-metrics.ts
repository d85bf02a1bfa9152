// Replication counters (spec §8.3.5 names plus this node's ack / pull / outbox counters), exposed in node status.
// Each peer link counts through `forPeer(url)`: the node-wide total and that peer's transport (http, bus, onion,
// rns — a bounded label set, never the URL) both move (issue 13: /metrics splits push outcomes per transport).
import { transportKind } from '../protocol/peer-url.js';

/** Peer URL → transport label: http (loopback and clearnet), bus, onion, rns; 'other' for anything else. */
export function transportLabel(peerUrl: string): string {
  const k = transportKind(peerUrl);
  if (k === 'loopback' || k === 'clearnet') return 'http';
  return k || 'other';
}
export const REPLICATION_COUNTERS = [
  // §8.3.5: one of ok / rejected per delivered-or-refused envelope; error per failed attempt (peer down,
  // timeout, 5xx, or a policy refusal such as a clearnet peer in private mode).
  'dm_replication_push_ok',
  'dm_replication_push_rejected',
  'dm_replication_push_error',
  'dm_replication_push_rate_limited',
  /** Envelopes given up at expiry (relay TTL) or after the attempt bound. */
  'dm_replication_push_expired',
  'dm_replication_enqueued',
  /** Requests on the batch route `dm/replicate-envelopes` answered with per-item results (items count above). */
  'dm_replication_batches',
  /** Batch requests the peer could not take (404/405/413/no results): their items went again as singles. */
  'dm_replication_batch_fallback',
  // §10.1 acks, counted per ack (a request carries up to 100).
  'dm_ack_push_ok',
  'dm_ack_push_rejected',
  'dm_ack_push_error',
  'dm_ack_push_expired',
  'dm_ack_enqueued',
  /** Acks not sent because the envelope had not left yet (both dropped). */
  'dm_ack_cancelled_envelope',
  // §10.2 pull-from-peers.
  'dm_pull_requests',
  'dm_pull_errors',
  'dm_pull_envelopes',
  'dm_pull_accepted',
  'dm_pull_throttled',
] as const;

export type ReplicationCounter = (typeof REPLICATION_COUNTERS)[number];

export class ReplicationMetrics {
  private readonly c = new Map<ReplicationCounter, number>(REPLICATION_COUNTERS.map((k) => [k, 0]));
  private readonly transports = new Map<string, ReplicationMetrics>();

  constructor(private readonly total?: ReplicationMetrics) {}

  inc(name: ReplicationCounter, n = 1): void {
    this.c.set(name, (this.c.get(name) ?? 0) + n);
    this.total?.inc(name, n);
  }

  /** The counters a peer link counts into: its transport's, which also move the node-wide total (this). */
  forPeer(peerUrl: string): ReplicationMetrics {
    const t = transportLabel(peerUrl);
    let m = this.transports.get(t);
    if (!m) this.transports.set(t, (m = new ReplicationMetrics(this)));
    return m;
  }

  /** Per transport label, the counters its links counted (only transports with a configured peer appear). */
  byTransport(): Record<string, Record<ReplicationCounter, number>> {
    return Object.fromEntries([...this.transports].map(([t, m]) => [t, m.snapshot()]));
  }

  get(name: ReplicationCounter): number {
    return this.c.get(name) ?? 0;
  }

  snapshot(): Record<ReplicationCounter, number> {
    return Object.fromEntries(this.c) as Record<ReplicationCounter, number>;
  }
}
