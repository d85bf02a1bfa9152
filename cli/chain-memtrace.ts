// Memory samples for the streaming CLI (issue 14): with INFONET_MEM_TRACE=N set, `chain ingest|validate`
// print one line to stderr every N events — RSS split into anonymous and file-backed pages (LevelDB's
// mapped tables are file-backed), and V8's heap and external figures — so a growth can be attributed.
import { readFileSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';

const MiB = 2 ** 20;

/** Events between samples, or 0 when tracing is off. */
export const memTraceEvery = (): number => {
  const n = Number(process.env.INFONET_MEM_TRACE ?? 0);
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
};

function procStatus(): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    for (const m of readFileSync('/proc/self/status', 'utf8').matchAll(/^(VmHWM|RssAnon|RssFile):\s+(\d+) kB/gm)) out[m[1]] = Number(m[2]) * 1024;
  } catch {
    // not Linux: V8's figures only
  }
  return out;
}

/** One sample line: `mem <label> <count>: rss … anon … file … hwm … heapUsed … heapTotal … external … arrayBuffers …` (MiB). */
export function memLine(label: string, count: number): string {
  const m = process.memoryUsage();
  const s = procStatus();
  const f = (v: number | undefined): string => (v === undefined ? '?' : (v / MiB).toFixed(0));
  const space = (name: string): number | undefined => getHeapSpaceStatistics().find((x) => x.space_name === name)?.physical_space_size;
  return `mem ${label} ${count}: rss ${f(m.rss)} anon ${f(s.RssAnon)} file ${f(s.RssFile)} hwm ${f(s.VmHWM)} ` +
    `heapUsed ${f(m.heapUsed)} heapTotal ${f(m.heapTotal)} (new ${f(space('new_space'))} old ${f(space('old_space'))} ` +
    `lo ${f(space('large_object_space'))}) external ${f(m.external)} arrayBuffers ${f(m.arrayBuffers)}`;
}

/** A sampler that writes a line whenever the count crosses a multiple of INFONET_MEM_TRACE. */
export function memTracer(label: string): (before: number, after: number) => void {
  const every = memTraceEvery();
  if (!every) return () => {};
  return (before, after) => {
    if (Math.floor(after / every) > Math.floor(before / every)) process.stderr.write(memLine(label, after) + '\n');
  };
}
