// Printed at the top of every benchmark: numbers mean nothing without the hardware they ran on.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
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

/** utime + stime (µs) of a /proc stat file (a process or one of its threads); NaN when unreadable (not Linux, gone). */
export function procCpuUs(statFile: string): number {
  try {
    const f = readFileSync(statFile, 'utf8');
    const v = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(v[11]) + Number(v[12])) * 10_000; // clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

/** CPU µs of the main JS thread of `pid` alone: the process total also counts workers, GC helpers and libuv's pool. */
export function mainThreadCpuUs(pid = process.pid): number {
  return procCpuUs(`/proc/${pid}/task/${pid}/stat`);
}

/**
 * CPU µs of every thread of `pid` by name: "main", else comm#tid (Node names its libuv pool, V8 helpers and LevelDB's
 * compaction thread alike, so they are told apart by tid). Threads that ended are missing.
 */
export function threadCpuUs(pid = process.pid): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = Number(tid) === pid ? 'main' : `${f.slice(f.indexOf('(') + 1, f.lastIndexOf(')'))}#${tid}`;
      const us = procCpuUs(`/proc/${pid}/task/${tid}/stat`);
      if (Number.isFinite(us)) out.set(name, (out.get(name) ?? 0) + us);
    } catch {
      // thread ended
    }
  }
  return out;
}

/**
 * Starts V8's sampling heap profiler on this thread, collected objects included (what a phase allocates: GC work);
 * the returned function stops it and writes the profile to `file` (BENCH_HEAP_PROFILE runs).
 */
export async function startHeapProfile(): Promise<(file: string) => Promise<void>> {
  const s = new Session();
  s.connect();
  await s.post('HeapProfiler.enable');
  await s.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
  return async (file) => {
    const { profile } = await s.post('HeapProfiler.stopSampling');
    writeFileSync(file, JSON.stringify(profile));
    s.disconnect();
  };
}

/** Starts a V8 CPU profile of this thread (BENCH_PROFILE runs); the returned function stops it and writes it to `file`. */
export async function startCpuProfile(): Promise<(file: string) => Promise<void>> {
  const s = new Session();
  s.connect();
  await s.post('Profiler.enable');
  await s.post('Profiler.start');
  return async (file) => {
    const { profile } = await s.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    s.disconnect();
  };
}
