// npm run bench:restart [-- --events N --runs R] — cold start of a node's chain on a big store (issue 14):
// open, open-time integrity (snapshot digest + head event + tail re-hash), derived state, ready to serve.
// Each run is a fresh process (RSS is the process's own). Baseline in the same run: a raw LevelDB scan of
// the event log (every key and value read, nothing decoded). Targets: ready < 10 s, RSS < 512 MiB at
// 1,000,000 events. The background re-hash of the prefix is timed too (it runs after ready).
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { openChainAt } from '../actors/open-chain.js';
import { defaultSettings } from '../protocol/settings.js';
import { openDatabase } from '../store/db.js';
import { chainFixture } from './fixtures/chain-fixture.js';
import { machineLine } from './machine.js';

const MiB = 2 ** 20;

async function child(mode: string, dir: string): Promise<void> {
  const t0 = performance.now();
  if (mode === 'scan') {
    const db = await openDatabase(dir, { readOnly: true });
    const it = db.iterator({ gte: '!chain-ev!', lt: '!chain-ev!~', keyEncoding: 'buffer', valueEncoding: 'buffer' } as never);
    let n = 0;
    for (;;) {
      const batch = await it.nextv(1000);
      if (batch.length === 0) break;
      n += batch.length;
    }
    await it.close();
    const ms = performance.now() - t0;
    await db.close();
    process.stdout.write(JSON.stringify({ n, ms, rss: process.memoryUsage().rss }) + '\n');
    return;
  }
  const opened = await openChainAt(dir, { settings: defaultSettings().chain });
  const readyMs = performance.now() - t0;
  const rss = process.memoryUsage().rss;
  const heap = process.memoryUsage().heapUsed;
  const openPeakRss = process.resourceUsage().maxRSS * 1024;
  // RSS while the background re-hash runs (the node is serving by then): sampled between its slices.
  let rehashRss = rss;
  const sampler = setInterval(() => (rehashRss = Math.max(rehashRss, process.memoryUsage().rss)), 50);
  const status = await opened.chain.ledger.integrityChecked();
  clearInterval(sampler);
  const verifiedMs = performance.now() - t0;
  const peakRss = process.resourceUsage().maxRSS * 1024;
  const length = opened.chain.length;
  await opened.close();
  process.stdout.write(JSON.stringify({ length, readyMs, rss, heap, openPeakRss, rehashRss, verifiedMs, integrity: status.status, peakRss }) + '\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { events: { type: 'string' }, runs: { type: 'string' }, child: { type: 'string' }, dir: { type: 'string' } } });
  if (values.child) return child(values.child, values.dir!);
  const n = Number(values.events ?? process.env.BENCH_EVENTS ?? 1_000_000);
  const runs = Number(values.runs ?? 3);
  console.log(machineLine());
  console.log(`chain of ${n} events (cached under .infonet/bench/chain-${n}; generated on first use)`);
  const dir = await chainFixture(n);
  const run = (mode: string) => JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', 'bench/restart.bench.ts', '--child', mode, '--dir', dir], { encoding: 'utf8' }));
  const scan = run('scan') as { n: number; ms: number };
  console.log(`baseline raw LevelDB scan of the event log: ${scan.n} values in ${(scan.ms / 1000).toFixed(2)} s`);
  for (let i = 1; i <= runs; i++) {
    const r = run('open') as { length: number; readyMs: number; rss: number; heap: number; openPeakRss: number; rehashRss: number; verifiedMs: number; integrity: string; peakRss: number };
    console.log(
      `run ${i}: cold start ready in ${(r.readyMs / 1000).toFixed(2)} s (target < 10 s; ${(r.readyMs / scan.ms).toFixed(2)} x raw scan), ` +
        `RSS at ready ${(r.rss / MiB).toFixed(0)} MiB (target < 512), heap ${(r.heap / MiB).toFixed(0)} MiB, length ${r.length}; ` +
        `peak RSS while opening ${(r.openPeakRss / MiB).toFixed(0)} MiB; background re-hash ${r.integrity} at ${(r.verifiedMs / 1000).toFixed(1)} s, ` +
        `RSS while it ran up to ${(r.rehashRss / MiB).toFixed(0)} MiB (target < 512), process peak RSS ${(r.peakRss / MiB).toFixed(0)} MiB`,
    );
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
