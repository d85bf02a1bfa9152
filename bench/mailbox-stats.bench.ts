// What the mailbox counts of issue 13 (actors/mailbox-stats.ts) cost on the hot path: the same deposit + poll load on
// two registries in one run — one with the stats hook as shipped, one with it switched off (baseline) — alternating
// rounds so both see the same neighbours. Prints CPU µs per deposit and per poll (user+sys of this process, steadier
// than wall clock on a shared machine), the ratio hook/baseline, the load average, and the cost of status-time
// reads (snapshot) with N pending messages. Run: node --import tsx bench/mailbox-stats.bench.ts [N per round]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { MailboxRegistry } from '../actors/mailbox-registry.js';
import { MailboxStats } from '../actors/mailbox-stats.js';
import type { MailboxState, StoredMessage } from '../protocol/mailbox-rules.js';
import { loadSettings } from '../protocol/settings.js';
import { openDatabase, type Db } from '../store/db.js';
import { MailboxStore } from '../store/mailbox-store.js';
import { inFlight } from './machine.js';

const N = Number(process.argv[2] ?? 10_000);
const ROUNDS = 3;
const CONCURRENCY = 256;

async function pool(n: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  const c0 = process.cpuUsage();
  await inFlight(n, CONCURRENCY, fn);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

async function open(hook: boolean): Promise<{ registry: MailboxRegistry; db: Db; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-mbx-stats-'));
  const settings = loadSettings({});
  const db = await openDatabase(dir);
  const registry = await MailboxRegistry.open(new MailboxStore(db), { settings: settings.relay, spoolTtlS: settings.chain.spool.ttlS });
  await registry.stats.whenCounted();
  if (!hook) registry.stats.change = () => undefined;
  return { registry, db, dir };
}

async function main(): Promise<void> {
  console.log(`machine: ${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} cores, node ${process.version}; ${N} deposits + polls per round, ${ROUNDS} rounds; load average (1 min) ${loadavg()[0].toFixed(1)}`);
  const ciphertext = 'sealed:' + randomBytes(180).toString('base64');
  const sum = { hook: { dep: 0, poll: 0 }, base: { dep: 0, poll: 0 } };
  // Round -1 warms the JIT for both and is not counted.
  for (let r = -1; r < ROUNDS; r++) {
    for (const which of r % 2 ? (['hook', 'base'] as const) : (['base', 'hook'] as const)) {
      const { registry, db, dir } = await open(which === 'hook');
      const dep = await pool(N, (i) => registry.deposit({ sender_id: `s${i}`, recipient_token: `t-${i % (N / 4)}`, delivery_class: 'shared', ciphertext, msg_id: `m${r}-${i}` }));
      if (which === 'hook' && r === 0) {
        const pending = Object.values(registry.stats.snapshot(Date.now() / 1000).pending).reduce((a, b) => a + b, 0);
        const t0 = performance.now();
        for (let i = 0; i < 1000; i++) registry.stats.snapshot(Date.now() / 1000);
        console.log(`status read (stats snapshot) with ${pending} pending: ${(performance.now() - t0).toFixed(2)} µs each`);
      }
      const poll = await pool(N / 4, (i) => registry.poll('x', [{ type: 'shared', token: `t-${i}` }]));
      if (r >= 0) { sum[which].dep += dep; sum[which].poll += poll; }
      await registry.close();
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const f = (x: number): string => (x / ROUNDS).toFixed(1);
  console.log(`deposit: baseline ${f(sum.base.dep)} µs CPU/op, with counts ${f(sum.hook.dep)} µs CPU/op, ratio ${(sum.hook.dep / sum.base.dep).toFixed(3)}`);
  console.log(`poll:    baseline ${f(sum.base.poll)} µs CPU/op, with counts ${f(sum.hook.poll)} µs CPU/op, ratio ${(sum.hook.poll / sum.base.poll).toFixed(3)}`);
  // The hook alone: change() for a deposit into a mailbox of 3 (3 → 4 messages) and a take of 2 of 4.
  const msg = (i: number): StoredMessage => ({ msg_id: `m${i}`, timestamp: 1_700_000_000 + i, delivery_class: 'shared' } as StoredMessage);
  const three: MailboxState = { key: 'k', messages: [msg(1), msg(2), msg(3)], claimed: {} };
  const four: MailboxState = { ...three, messages: [...three.messages, msg(4)] };
  const taken: MailboxState = { ...four, messages: [four.messages[1], four.messages[3]], claimed: { m1: 1, m3: 1 } };
  const st = new MailboxStats();
  const M = 1_000_000;
  const cpuNs = (c: NodeJS.CpuUsage): number => (c.user + c.system) * 1000;
  let c0 = process.cpuUsage();
  for (let i = 0; i < M; i++) { st.change(three, four); st.change(four, three); }
  const depNs = cpuNs(process.cpuUsage(c0)) / (2 * M);
  c0 = process.cpuUsage();
  for (let i = 0; i < M; i++) { st.change(four, taken); st.change(taken, four); }
  const takeNs = cpuNs(process.cpuUsage(c0)) / (2 * M);
  console.log(`hook alone: change() ${depNs.toFixed(0)} ns CPU per deposit-like change, ${takeNs.toFixed(0)} ns per take-like change (vs ~${f(sum.base.dep)} µs CPU per deposit)`);
  console.log(`load average (1 min) now ${loadavg()[0].toFixed(1)}`);
}

void main();
