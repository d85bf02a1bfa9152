// npm run bench:chain — chain ingest and local append throughput against raw crypto measured in the
// same run (ratios, not absolute numbers, are the targets: ingest/verify >= 0.8, append/sign >= 0.5).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { openChainAt } from '../actors/open-chain.js';
import { validateLocalAppend } from '../protocol/append-rules.js';
import { applyEvent, emptyChainState } from '../protocol/chain-state.js';
import type { ChainEvent } from '../protocol/event.js';
import { generateIdentity, type Identity } from '../protocol/identity.js';
import { signAppend } from '../protocol/local-sign.js';
import { defaultSettings } from '../protocol/settings.js';
import { signEd25519, verifySignature } from '../protocol/signatures.js';
import { machineLine, mainThreadCpuUs, rate } from './machine.js';

const N = Number(process.env.BENCH_EVENTS ?? 20000);
const settings = defaultSettings().chain;
const clock = () => Date.now() / 1000;

function payloadFor(i: number): [string, Record<string, unknown>] {
  if (i % 3 === 1) {
    return ['gate_message', { gate: 'bench', ciphertext: randomBytes(96).toString('base64'), nonce: randomBytes(12).toString('base64'), sender_ref: `r${i}`, transport_lock: 'private_strong', epoch: 1 }];
  }
  return ['message', { message: `bench message ${i}`, destination: 'broadcast', channel: 'LongFast', priority: 'normal', ephemeral: false }];
}

function buildChain(authors: Identity[], n: number): ChainEvent[] {
  const state = emptyChainState();
  const seq = new Map<string, number>();
  const events: ChainEvent[] = [];
  for (let i = 0; i < n; i++) {
    const id = authors[i % authors.length];
    const [type, payload] = payloadFor(i);
    const key = `${id.nodeId}|${type}`;
    const s = (seq.get(key) ?? 0) + 1;
    seq.set(key, s);
    const v = validateLocalAppend(state, signAppend(id, type, payload, s, clock()), { settings, clock }, { trustedSignature: true });
    if (v.kind !== 'accepted') throw new Error(JSON.stringify(v));
    applyEvent(state, v.event);
    events.push(v.event);
  }
  return events;
}

/** CPU per operation while `fn` runs: whole process, main thread, and main-thread GC pauses (µs each). */
async function cpuPerOp(n: number, fn: () => Promise<void>): Promise<{ ms: number; cpu: number; main: number; gc: number }> {
  let gcMs = 0;
  const gc = new PerformanceObserver((list) => { for (const e of list.getEntries()) gcMs += e.duration; });
  gc.observe({ entryTypes: ['gc'] });
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpuUs();
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const main = mainThreadCpuUs() - main0;
  await new Promise((r) => setImmediate(r)); // deliver the last gc entries
  gc.disconnect();
  return { ms, cpu: (cpu.user + cpu.system) / n, main: main / n, gc: (gcMs * 1000) / n };
}

const fmtCpu = (c: { cpu: number; main: number; gc: number }): string =>
  `CPU ${c.cpu.toFixed(1)} µs/op (main thread ${c.main.toFixed(1)}, GC pauses ${c.gc.toFixed(1)})`;

async function main(): Promise<void> {
  console.log(machineLine());
  console.log(`events per measurement: ${N}`);
  // The ratios are only comparable on a quiet machine: the load is printed with them (2 cores here).
  const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(`load average at start: ${load()}`);
  const authors = Array.from({ length: 16 }, () => generateIdentity());
  const chainEvents = buildChain(authors, N);

  // Raw node:crypto verify with cached KeyObjects (the ceiling for ingest).
  const msgs = chainEvents.map((e) => `${e.event_type}|${e.node_id}|${e.sequence}|${JSON.stringify(e.payload)}`);
  const sigs = chainEvents.map((e, i) => signEd25519(authors[i % authors.length].privateKey, msgs[i]));
  let t = performance.now();
  for (let i = 0; i < N; i++) if (!verifySignature('Ed25519', chainEvents[i].public_key, sigs[i], msgs[i])) throw new Error('verify');
  const verifyPerS = rate(N, performance.now() - t);

  // Chain ingest into a durable store, in sync-sized pages (verify + validate + fsync'd batch).
  const dirA = mkdtempSync(join(tmpdir(), 'bench-ingest-'));
  const a = await openChainAt(dirA, { settings });
  t = performance.now();
  for (let i = 0; i < N; i += 500) {
    const r = await a.chain.ingest(chainEvents.slice(i, i + 500), 0);
    if (r.accepted !== Math.min(500, N - i)) throw new Error(`ingest rejected: ${JSON.stringify(r.rejected[0])}`);
  }
  const ingestPerS = rate(N, performance.now() - t);
  await a.close();
  rmSync(dirA, { recursive: true, force: true });

  // Raw sign.
  const author = authors[0];
  const signCpu = await cpuPerOp(N, async () => {
    for (let i = 0; i < N; i++) signEd25519(author.privateKey, msgs[i]);
  });
  const signPerS = rate(N, signCpu.ms);

  // Durable local appends: sign + validate + fsync'd group commit, BENCH_IN_FLIGHT (default 2048) appends in flight.
  const dirB = mkdtempSync(join(tmpdir(), 'bench-append-'));
  const b = await openChainAt(dirB, { settings });
  const inFlight = Number(process.env.BENCH_IN_FLIGHT ?? 2048);
  // Payloads are made before the clock starts, as the raw-sign baseline's messages are.
  const payloads = Array.from({ length: N }, (_, i) => payloadFor(i));
  let next = 0;
  const appendCpu = await cpuPerOp(N, async () => {
    await Promise.all(Array.from({ length: inFlight }, async () => {
      while (next < N) {
        const [type, payload] = payloads[next++];
        await b.chain.appendLocal(author, type, payload);
      }
    }));
  });
  const appendPerS = rate(N, appendCpu.ms);
  const commits = b.chain.ledger.store.committer.commits;
  await b.close();
  rmSync(dirB, { recursive: true, force: true });

  console.log(`raw node:crypto Ed25519 verify/s:      ${verifyPerS}`);
  console.log(`chain ingest events/s (durable):       ${ingestPerS}   ratio ${(ingestPerS / verifyPerS).toFixed(2)} (target >= 0.8)`);
  console.log(`raw node:crypto Ed25519 sign/s:        ${signPerS}   ${fmtCpu(signCpu)}`);
  console.log(`durable local appends/s:               ${appendPerS}   ratio ${(appendPerS / signPerS).toFixed(2)} (target >= 0.5; ${commits} fsyncs for ${N} appends)`);
  console.log(`  local appends, ${inFlight} in flight:       ${fmtCpu(appendCpu)}; CPU ratio sign/append ${(signCpu.cpu / appendCpu.cpu).toFixed(2)}`);
  console.log(`load average at end: ${load()}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
