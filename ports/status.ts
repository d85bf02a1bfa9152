// Status shapes the bus reports in `node.status` (issue 9: bus/ reads these types here instead of importing the
// composition root or the actors).

export interface ReplicationStatus {
  enabled: boolean;
  /** Why replication is off (no peers, no secret). */
  reason?: string;
  peers: Array<{ url: string; state: string; queued: number; failures: number; retry_at: number; last_error: string }>;
  metrics: Record<string, number>;
  /** The same counters split by the peer's transport (http, bus, onion, rns) — issue 13, actors/replication-metrics.ts. */
  by_transport?: Record<string, Record<string, number>>;
}

export interface InboundStatus {
  http_url: string;
  sync: {
    last_outcome: string; last_error: string; next_sync_due_at: number; consecutive_failures: number; peers: number;
    /** Kept-aside events, rebuilds, forks, behind peers, partitions, contact heals (actors/sync-actor.ts, docs/sync.md). */
    metrics?: Record<string, number>;
  };
}

/** Delivery classes the mailbox counts split by (anything else counts as `other`). */
export type MailboxClass = 'request' | 'shared' | 'self' | 'other';
/** Where a stored mailbox message came from (protocol/mailbox-rules.ts StoredMessage.origin). */
export type DepositOrigin = 'local' | 'chain' | 'replica';

/** Mailbox counts in node status (issue 13, actors/mailbox-stats.ts): counts only, never keys, ids or contents. */
export interface MailboxStatsSnapshot {
  /** False until the stored mailboxes have been counted once after start. */
  counted: boolean;
  /** Pending messages per delivery class. */
  pending: Record<MailboxClass, number>;
  /** Mailboxes holding at least one pending message, per class (a mailbox's messages share one class). */
  with_pending: Record<MailboxClass, number>;
  /** Claim tombstones held (claimed messages remembered until their expiry). */
  claimed: number;
  /** Seconds since the oldest pending message was stored (whole seconds), null when nothing is pending. */
  oldest_pending_age_s: number | null;
  /** Messages stored since start, by origin (local deposit, chain hydration, peer replica); duplicates not counted. */
  deposits: Record<DepositOrigin, number>;
  /** Polls answered since start (empty ones too). */
  polls: number;
  /** Messages removed by a poll or a selective claim since start (claim = ack, §7.6). */
  claims: number;
}

export interface LatencySummary { count: number; p50_ms: number; p95_ms: number; max_ms: number }

/** Replication push round trips of the last `window_s` seconds (issue 13, node/metrics.ts). */
export interface LatencyStatus {
  window_s: number;
  /** DM replication pushes (dm/replicate-envelope[s]) answered 200 by the peer, per transport. */
  replication_push: Record<string, LatencySummary>;
  /** The same over every transport (the console's latency chart), null when no push was answered in the window. */
  replication_push_all: LatencySummary | null;
}
