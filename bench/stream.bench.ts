// npm run bench:stream [-- --events N] — the streaming chain CLI on a big chain (issue 14): `infonet chain
// export` of the cached mixed fixture (.infonet/bench/chain-N) to a file, `chain validate` of that file and
// `chain ingest` of it into a fresh data dir, each as its own child process (`node bin/infonet.js`, the
// way a user runs it). Printed per command: wall time, events/s and peak RSS (the kernel's high-water
// mark, /usr/bin/time's %M; /proc/<pid>/status VmHWM sampled when /usr/bin/time is missing). Target:
// peak RSS < 512 MiB each at 1,000,000 events. Baselines in the same run: the peak RSS of the CLI doing
// nothing (`infonet` with no command: node + the TypeScript loader) and the time to read the exported
// file through node (bytes only, no JSON), so each rate is also a ratio to raw file reading.
// INFONET_MEM_TRACE=N (inherited by the children) adds their memory sample lines every N events
// (cli/chain-memtrace.ts: RSS split into anonymous and file-backed pages, V8 heap, external).
import { spawn } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { chainFixture } from './fixtures/chain-fixture.js';
import { machineLine, rate } from './machine.js';

const MiB = 2 ** 20;
const TIME = '/usr/bin/time';

interface Run {
  code: number;
  ms: number;
  peakRss: number;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/infonet.js ...args`, measuring wall time and the process's peak RSS. */
async function cli(args: string[], dir: string): Promise<Run> {
  const useTime = existsSync(TIME);
  const timeOut = join(dir, `time-${process.hrtime.bigint()}.txt`);
  const argv = [process.execPath, 'bin/infonet.js', ...args];
  const t0 = performance.now();
  const child = useTime ? spawn(TIME, ['-f', '%M', '-o', timeOut, ...argv]) : spawn(argv[0], argv.slice(1));
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
    for (const line of s.split('\n')) if (/^(?:mem )?(?:export|validate|ingest) ?\d*: /.test(line)) process.stderr.write(`  ${line}\n`);
  });
  let sampled = 0;
  const sampler = useTime
    ? null
    : setInterval(() => {
        try {
          const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
          if (m) sampled = Math.max(sampled, Number(m[1]) * 1024);
        } catch {
          // exited between samples
        }
      }, 50);
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  const ms = performance.now() - t0;
  if (sampler) clearInterval(sampler);
  const peakRss = useTime ? Number(readFileSync(timeOut, 'utf8').trim().split('\n').pop()) * 1024 : sampled;
  return { code, ms, peakRss, stdout, stderr };
}

async function readFileMs(file: string): Promise<number> {
  const t0 = performance.now();
  for await (const chunk of createReadStream(file, { highWaterMark: 64 * 1024 })) void chunk;
  return performance.now() - t0;
}

function check(name: string, r: Run): void {
  if (r.code !== 0) throw new Error(`${name} exited ${r.code}: ${r.stderr.slice(-2000)}`);
}

const line = (name: string, n: number, r: Run, baseMs: number, idleRss: number): string =>
  `${name.padEnd(9)} ${n} events in ${(r.ms / 1000).toFixed(1).padStart(6)} s, ${String(rate(n, r.ms)).padStart(7)} events/s ` +
  `(${(baseMs / r.ms).toFixed(3)} x raw file read), peak RSS ${(r.peakRss / MiB).toFixed(0).padStart(4)} MiB ` +
  `(target < 512; ${((r.peakRss - idleRss) / MiB).toFixed(0)} MiB above the idle CLI)`;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { events: { type: 'string' }, keep: { type: 'boolean' } } });
  const n = Number(values.events ?? process.env.BENCH_EVENTS ?? 1_000_000);
  console.log(machineLine());
  console.log(`chain of ${n} events (cached under .infonet/bench/chain-${n}; generated on first use); peak RSS by ${existsSync(TIME) ? TIME : '/proc VmHWM sampling'}`);
  const fixture = await chainFixture(n);
  const root = mkdtempSync(join(tmpdir(), 'infonet-bench-stream-'));
  try {
    const file = join(root, 'chain.json');
    const idle = await cli([], root); // the usage text: loader + CLI modules, no work
    const exp = await cli(['chain', 'export', '--data', fixture, '--out', file], root);
    check('export', exp);
    const bytes = statSync(file).size;
    const readMs = await readFileMs(file);
    console.log(`baselines: idle CLI peak RSS ${(idle.peakRss / MiB).toFixed(0)} MiB; raw read of the ${(bytes / MiB).toFixed(0)} MiB file ${(readMs / 1000).toFixed(2)} s`);
    console.log(line('export', n, exp, readMs, idle.peakRss));
    const val = await cli(['chain', 'validate', file], root);
    check('validate', val);
    if (!val.stdout.startsWith(`valid: ${n} events`)) throw new Error(`validate said: ${val.stdout}`);
    console.log(line('validate', n, val, readMs, idle.peakRss));
    const ing = await cli(['chain', 'ingest', '--data', join(root, 'ingested'), file], root);
    check('ingest', ing);
    const verdict = JSON.parse(ing.stdout) as { accepted: number; rejected: unknown[] };
    if (verdict.accepted !== n || verdict.rejected.length !== 0) throw new Error(`ingest said: ${ing.stdout.slice(0, 500)}`);
    console.log(line('ingest', n, ing, readMs, idle.peakRss));
  } finally {
    if (!values.keep) rmSync(root, { recursive: true, force: true });
    else console.log(`kept ${root}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
