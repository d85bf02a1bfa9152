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
