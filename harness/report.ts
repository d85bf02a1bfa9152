// The end-of-run report of a harness scenario: delivery counts, latency percentiles and named checks, printed as a
// short table. Pure functions (no I/O) so the numbers can be unit-tested and reused by other scenarios.

/** Nearest-rank percentile (p in [0, 100]) of `values`; NaN for an empty list. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((Math.min(100, Math.max(0, p)) / 100) * sorted.length);
  return sorted[Math.max(0, rank - 1)];
}

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 100) return `${Math.round(ms)} ms`;
  return `${ms.toFixed(1)} ms`;
}

export interface Check {
  name: string;
  ok: boolean;
  /** What was measured (shown next to the verdict). */
  detail: string;
}

export interface DeliveryCounts {
  sent: number;
  delivered: number;
  duplicates: number;
  lost: number;
}

/**
 * Delivery counts from what was sent and every msg_id the recipient received (in order, repeats included):
 * delivered = distinct sent ids received, duplicates = receipts beyond the first of an id (or of an id never sent),
 * lost = sent ids never received.
 */
export function deliveryCounts(sentIds: readonly string[], receivedIds: readonly string[]): DeliveryCounts {
  const sent = new Set(sentIds);
  const seen = new Set<string>();
  let duplicates = 0;
  for (const id of receivedIds) {
    if (seen.has(id) || !sent.has(id)) duplicates++;
    seen.add(id);
  }
  const delivered = [...sent].filter((id) => seen.has(id)).length;
  return { sent: sent.size, delivered, duplicates, lost: sent.size - delivered };
}

export interface ScenarioReport {
  scenario: string;
  nodes: number;
  counts: DeliveryCounts;
  /** Per-message latencies in ms (what is measured is named by `latencyOf`). */
  latenciesMs: number[];
  latencyOf: string;
  checks: Check[];
  totalMs: number;
  runDir?: string;
  /** Extra "name: value" lines (configuration, metrics). */
  notes?: Array<[string, string]>;
  /** What happened when (ms since the run started): node kills/restarts, partitions, deliveries. */
  timeline?: TimelineEntry[];
  /** One entry per delivered message: when it became visible and its latency. */
  deliveries?: Array<{ tMs: number; latencyMs: number; transport?: string }>;
  /** Deliveries per transport kind (loopback, bus, onion, rns) — proves which transport carried the run. */
  transportCounts?: Record<string, number>;
  /** Counters per node (pushes, acks, pulls, syncs …) read from each node's status at the end. */
  nodeCounters?: Record<string, Record<string, number>>;
}

export interface TimelineEntry {
  tMs: number;
  node: string;
  kind: 'kill' | 'restart' | 'start' | 'stop' | 'partition' | 'heal' | 'deliver' | string;
  detail?: string;
}

export const reportOk = (r: ScenarioReport): boolean => r.checks.length > 0 && r.checks.every((c) => c.ok);

export function formatReport(r: ScenarioReport): string {
  const lat = r.latenciesMs;
  const rows: Array<[string, string]> = [
    ['scenario', `${r.scenario} (${r.nodes} nodes)`],
    ['sent', String(r.counts.sent)],
    ['delivered', String(r.counts.delivered)],
    ['duplicates', String(r.counts.duplicates)],
    ['lost', String(r.counts.lost)],
    [`latency p50`, `${formatMs(percentile(lat, 50))}  (${r.latencyOf}, n=${lat.length})`],
    [`latency p99`, formatMs(percentile(lat, 99))],
    ['latency max', formatMs(lat.length ? Math.max(...lat) : Number.NaN)],
    ...(r.notes ?? []),
    ['total time', formatMs(r.totalMs)],
  ];
  if (r.runDir) rows.push(['run dir', r.runDir]);
  const w = Math.max(...rows.map(([k]) => k.length));
  const lines = ['', '── summary ' + '─'.repeat(60), ...rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`), '', '  checks:'];
  for (const c of r.checks) lines.push(`    ${c.ok ? 'PASS' : 'FAIL'}  ${c.name}${c.detail ? ` — ${c.detail}` : ''}`);
  const failed = r.checks.filter((c) => !c.ok).length;
  lines.push('', reportOk(r) ? `  RESULT: PASS (${r.checks.length} checks hold)` : `  RESULT: FAIL (${failed} of ${r.checks.length} checks failed)`, '');
  return lines.join('\n');
}
