// Printed at the top of every benchmark: numbers mean nothing without the hardware they ran on.
import { cpus, totalmem } from 'node:os';

export function machineLine(): string {
  const c = cpus();
  return `machine: ${c[0]?.model ?? 'unknown cpu'} x${c.length}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}`;
}

export function rate(n: number, ms: number): number {
  return Math.round((n / ms) * 1000);
}

export function percentile(sortedMs: number[], p: number): number {
  if (sortedMs.length === 0) return NaN;
  return sortedMs[Math.min(sortedMs.length - 1, Math.floor((p / 100) * sortedMs.length))];
}

/** Every inbound peer route unlimited: the benchmarks measure replication, not the §8.4.6 rate limiter. */
export const NO_RATE_LIMITS = { dm_replicate_envelope: 0, dm_replicate_envelopes: 0, dm_ack: 0, dm_pull: 0, infonet_peer_push: 0, infonet_sync: 0 };

/** A latency column: two decimals, right-aligned. */
export const fmtMs = (ms: number): string => `${ms.toFixed(2).padStart(7)} ms`;

export function latencyStats(t: number[]): { p50: number; p99: number } {
  const s = [...t].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p99: percentile(s, 99) };
}

/** Runs `fn(0)` … `fn(n − 1)` with at most `concurrency` calls in flight (a load generator's in-flight window). */
export async function inFlight(n: number, concurrency: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.max(0, Math.min(concurrency, n)) }, async () => {
    while (next < n) await fn(next++);
  }));
}

/** Something whose mailboxes announce stored messages (a node's `mailboxes.events$`). */
interface DepositEvents { subscribe(fn: (e: { type: string; msg_id?: string }) => void): { unsubscribe(): void } }

/**
 * Resolves `visible(msgId)` when that message is stored on the watched node. Register before depositing: a
 * replica can land before the deposit call returns.
 */
export function watchDeposits(events: DepositEvents): { visible(msgId: string): Promise<void>; close(): void } {
  const waiting = new Map<string, () => void>();
  const sub = events.subscribe((e) => {
    if (e.type !== 'deposited' || e.msg_id === undefined) return;
    const w = waiting.get(e.msg_id);
    if (w) {
      waiting.delete(e.msg_id);
      w();
    }
  });
  return { visible: (msgId) => new Promise<void>((r) => waiting.set(msgId, r)), close: () => sub.unsubscribe() };
}
