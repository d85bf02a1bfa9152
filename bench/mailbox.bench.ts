// DM relay benchmark: N mailboxes (default 1,000,000; issue 14) with one DM each, then a poll of every mailbox,
// with at most MAX_LIVE live actors (the rest passivated: their state only in LevelDB).
// Prints the machine, a same-run baseline (plain group-committed LevelDB puts of the same count),
// deposits/s, polls/s and the peak RSS sampled every 50 ms. Run: npm run bench:mailbox [-- N]
// (or BENCH_MAILBOXES=N; BENCH_MAX_LIVE=n caps the live actors, default 5,000). On a shared machine wall-clock rates move with the neighbours' load, so each phase also
// prints the CPU this process spent per operation (user+sys), which does not.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { MailboxRegistry } from '../actors/mailbox-registry.js';
import { loadSettings } from '../protocol/settings.js';
import { openDatabase, sublevel } from '../store/db.js';
import { GroupCommitter } from '../store/group-commit.js';
import { MailboxStore } from '../store/mailbox-store.js';
import { inFlight } from './machine.js';

const N = Number(process.argv[2] ?? process.env.BENCH_MAILBOXES ?? 1_000_000);
const CONCURRENCY = 512;
/** BENCH_MAX_LIVE below the 512 in flight exercises trim() with every live actor pinned (issue 14). */
const MAX_LIVE = Number(process.env.BENCH_MAX_LIVE ?? 5000);

// memoryUsage.rss() only: the full memoryUsage() walks the heap spaces and showed up in the profile.
let peakRss = process.memoryUsage.rss();
const sampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage.rss()); }, 50);
const mib = (b: number): string => (b / 2 ** 20).toFixed(0) + ' MiB';

/** CPU µs per operation of the last pool() run. */
let cpuPerOp = 0;
const us = (x: number): string => `${x.toFixed(0)} µs CPU/op`;

async function pool(n: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await inFlight(n, CONCURRENCY, fn);
  const c = process.cpuUsage(c0);
  cpuPerOp = (c.user + c.system) / n;
  return (performance.now() - t0) / 1000;
}

async function main(): Promise<void> {
  const cpu = cpus();
  console.log(`machine: ${cpu[0]?.model ?? 'unknown'}, ${cpu.length} cores, node ${process.version}`);
  console.log(`mailboxes: ${N}, concurrency ${CONCURRENCY}, max live actors ${MAX_LIVE}, load average (1 min) ${loadavg()[0].toFixed(1)}`);
  const started = performance.now();
  const ciphertext = 'sealed:' + randomBytes(180).toString('base64'); // ~250 chars, a short sealed DM

  const baseDir = mkdtempSync(join(tmpdir(), 'bench-mbx-base-'));
  const baseDb = await openDatabase(baseDir);
  const gc = new GroupCommitter(baseDb);
  const sub = sublevel(baseDb, 'bench');
  const baseS = await pool(N, (i) => gc.write([{ type: 'put', key: `k${i}`, value: { ciphertext, i }, sublevel: sub }]));
  console.log(`baseline: ${Math.round(N / baseS)} fsync'd group-committed puts/s (${gc.commits} batches), ${us(cpuPerOp)}`);
  await baseDb.close();
  rmSync(baseDir, { recursive: true, force: true });

  const dir = mkdtempSync(join(tmpdir(), 'bench-mbx-'));
  const settings = loadSettings({});
  const db = await openDatabase(dir);
  const store = new MailboxStore(db);
  const registry = await MailboxRegistry.open(store, { settings: settings.relay, spoolTtlS: settings.chain.spool.ttlS, maxLive: MAX_LIVE });
  const depS = await pool(N, (i) => registry.deposit({ sender_id: `s${i}`, recipient_token: `bench-${i}`, delivery_class: 'shared', ciphertext, msg_id: `m${i}` }));
  console.log(`deposits: ${Math.round(N / depS)}/s (${depS.toFixed(1)} s, ${store.committer.commits} fsync'd batches so far), ${us(cpuPerOp)}, live actors ${registry.liveCount}, peak live ${registry.peakLive}, RSS now ${mib(process.memoryUsage.rss())}`);
  let got = 0;
  const pollS = await pool(N, async (i) => {
    const p = await registry.poll('x', [{ type: 'shared', token: `bench-${i}` }]);
    got += p.messages.length;
  });
  console.log(`polls: ${Math.round(N / pollS)}/s (${pollS.toFixed(1)} s), ${us(cpuPerOp)}, messages delivered ${got}/${N}, live actors ${registry.liveCount}, peak live ${registry.peakLive}`);
  await registry.close();
  await db.close();
  rmSync(dir, { recursive: true, force: true });
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
  console.log(`peak RSS: ${mib(peakRss)} (target < 1024 MiB) ${peakRss < 2 ** 30 ? 'OK' : 'OVER'}; whole run ${((performance.now() - started) / 1000).toFixed(0)} s, load average (1 min) now ${loadavg()[0].toFixed(1)}`);
  if (got !== N) process.exitCode = 1;
}

void main();
