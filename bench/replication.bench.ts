// npm run bench:replication — 3 nodes (A, B, C), each with an embedded nats-server leaf of one hub, peered over loopback
// HTTP in a full mesh. A DM deposited on A (bus command, durable deposit + durable outbox entry) is pushed by A's peer
// links to B and C; "visible to poll on C" = C's dm_deposited event, which C publishes once the replica is durable.
//   latency     sequential deposits, deposit sent → event seen on C: p50 / p99
//   throughput  BENCH_DMS deposits with BENCH_CONCURRENCY in flight, first send → last one visible on C: DMs/s
//   baseline    raw NATS request/reply across the same federation (requester on A's leaf, echo on C's leaf), same run
// Targets from issue 5: p99 < 20 ms, ≥ 5k DMs/s on a 2-core machine. The inbound §8.4.6 rate limit (60 req/min per
// peer) would cap replication at one DM per second per peer, so the peer servers here run with it raised: this
// measures the pipeline, not the limiter (each node's own inbound listener, started with rate-limit overrides).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Session } from 'node:inspector/promises';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectBus } from '../bus/connect.js';
import { pino } from 'pino';
import { InfonetClient } from '../bus/client.js';
import { decode } from '../bus/codec.js';
import { freePort, natsServerVersion, startNatsServer } from '../bus/nats-server.js';
import { encodeNodeToken, evtSubject } from '../bus/subjects.js';
import { resolveConfig } from '../node/config.js';
import { InfonetNode } from '../node/infonet-node.js';
import { generateIdentity } from '../protocol/identity.js';
import { fmtMs, inFlight, latencyStats, machineLine, NO_RATE_LIMITS, rate } from './machine.js';

const LATENCY_N = Number(process.env.BENCH_LATENCY_DMS ?? 1000);
const DMS = Number(process.env.BENCH_DMS ?? 5000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const WARMUP = 200;
const RATE_LIMITS = NO_RATE_LIMITS;
const SECRET = randomBytes(16).toString('hex');

const cpuUs = (u: NodeJS.CpuUsage): number => u.user + u.system;
/** CPU time (µs) of the main JS thread alone (Linux /proc, 10 ms ticks; NaN elsewhere): the nodes' JS runs there,
 * LevelDB writes and fsyncs on libuv's pool threads. A 2-core machine's ceiling is the main thread's share. */
function mainThreadCpuUs(): number {
  return procCpuUs(`/proc/self/task/${process.pid}/stat`);
}
/** utime + stime (µs) of a /proc stat file; NaN when unreadable (not Linux, process gone). */
function procCpuUs(statFile: string): number {
  try {
    const f = readFileSync(statFile, 'utf8');
    const v = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(v[11]) + Number(v[12])) * 10_000; // utime + stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}
const f = fmtMs;
const stats = latencyStats;

async function main(): Promise<void> {
  // `npm run bench:replication -- --transport rns` (issue 11) / `onion` (issue 10): those runs live in their own files.
  const t = process.argv.indexOf('--transport');
  if (t >= 0 && (process.argv[t + 1] === 'rns' || process.argv[t + 1] === 'onion')) {
    await import(process.argv[t + 1] === 'rns' ? './rns-replication.bench.js' : './onion-replication.bench.js');
    return new Promise<void>(() => undefined); // that module exits the process when done
  }
  console.log(machineLine());
  console.log(`nats-server ${natsServerVersion() ?? '?'}; 3 nodes, full mesh over loopback HTTP, one hub + 3 leaves`);
  // A shared machine makes DMs/s say more about the neighbours than about this code: the load average and the CPU
  // this process spends per DM (all 3 nodes run in it; user+sys, nats-servers excluded) are printed with the rates.
  const load0 = loadavg()[0];
  const root = mkdtempSync(join(tmpdir(), 'infonet-bench-repl-'));
  const hub = await startNatsServer({ serverName: 'bench_hub', leafListen: true, monitor: false, configDir: join(root, 'hub') });
  const names = ['a', 'b', 'c'];
  const ports = await Promise.all(names.map(() => freePort()));
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  const nodes: InfonetNode[] = [];
  const conns: NatsConnection[] = [];
  try {
    for (let i = 0; i < names.length; i++) {
      const config = resolveConfig({
        env: {
          MESH_PEER_PUSH_SECRET: SECRET, MESH_PUBLIC_PEER_URL: urls[i], MESH_RELAY_PEERS: urls.filter((_, j) => j !== i).join(','),
          INFONET_HTTP_PORT: String(ports[i]),
        },
      });
      const node = await InfonetNode.start({
        dataDir: join(root, names[i]), config, identity: generateIdentity(), leafRemote: hub.leafUrl!, logger: pino({ level: 'silent' }),
        inbound: { rateLimits: RATE_LIMITS },
      });
      nodes.push(node);
    }
    const [a, , c] = nodes;
    // Authenticated embedded servers: operator credentials for commands and events; for the raw cross-federation
    // echo, the nodes' service credentials (the only ones that may cross to another node: peer subjects).
    const ncA = await connectBus(a.natsUrl);
    const ncC = await connectBus(c.natsUrl);
    const svcA = await connectBus(a.natsUrl, { creds: join(a.dataDir, 'nats', 'auth', 'service.nk') });
    const svcC = await connectBus(c.natsUrl, { creds: join(c.dataDir, 'nats', 'auth', 'service.nk') });
    conns.push(ncA, ncC, svcA, svcC);
    const echoSubject = `infonet.${encodeNodeToken(c.nodeId)}.peer.bench_echo`;
    const client = new InfonetClient(ncA, a.nodeId, 10_000);

    // Visibility on C: msg_id → resolver.
    const waiting = new Map<string, () => void>();
    ncC.subscribe(evtSubject(c.nodeId, 'dm_deposited'), {
      callback: (_e, m) => {
        const ev = decode(m.data) as { msg_id: string };
        const w = waiting.get(ev.msg_id);
        if (w) {
          waiting.delete(ev.msg_id);
          w();
        }
      },
    });
    await ncC.flush();
    let seq = 0;
    const oneDm = async (): Promise<number> => {
      const i = seq++;
      const msgId = `dm_bench_${i}_${randomBytes(6).toString('hex')}`;
      const seen = new Promise<void>((r) => waiting.set(msgId, r));
      const t0 = performance.now();
      await client.dmDeposit({
        sender_id: `bench-${i}`, ciphertext: randomBytes(256).toString('base64'), delivery_class: 'shared',
        // One mailbox per DM: unsigned replicas count against the pushing peer, 2 per mailbox (docs/mailbox-sender-cap.md).
        recipient_token: `bench-${i}-${SECRET}`, msg_id: msgId,
      });
      await seen;
      return performance.now() - t0;
    };
    // Raw NATS baseline across the federation: echo on C's leaf, requester on A's leaf.
    svcC.subscribe(echoSubject, { callback: (_e, m) => { m.respond(m.data); } });
    await svcC.flush();
    const payload = randomBytes(400);
    for (let tries = 0; ; tries++) {
      try {
        await svcA.request(echoSubject, payload, { timeout: 500 });
        break;
      } catch (e) {
        if (tries > 100) throw e;
      }
    }
    for (let i = 0; i < WARMUP; i++) await svcA.request(echoSubject, payload, { timeout: 5000 });
    const rawT: number[] = [];
    for (let i = 0; i < LATENCY_N; i++) {
      const t0 = performance.now();
      await svcA.request(echoSubject, payload, { timeout: 5000 });
      rawT.push(performance.now() - t0);
    }
    const rawStart = performance.now();
    await inFlight(DMS, CONCURRENCY, () => svcA.request(echoSubject, payload, { timeout: 5000 }));
    const rawRate = rate(DMS, performance.now() - rawStart);

    // Replication latency (sequential) and throughput (pipelined).
    for (let i = 0; i < WARMUP; i++) await oneDm();
    const latT: number[] = [];
    for (let i = 0; i < LATENCY_N; i++) latT.push(await oneDm());
    // BENCH_PROFILE=<file.cpuprofile>: a V8 CPU profile of the throughput phase alone (where the time goes).
    const prof = process.env.BENCH_PROFILE ? new Session() : undefined;
    if (prof) {
      prof.connect();
      await prof.post('Profiler.enable');
      await prof.post('Profiler.start');
    }
    const tpStart = performance.now();
    const tpCpu = process.cpuUsage();
    const tpMain = mainThreadCpuUs();
    const commits0 = nodes.map((n) => n.mailboxes.store.committer.commits);
    // The four nats-servers (hub + one leaf per node) are processes of their own: their CPU belongs in the budget too.
    const natsPids = [hub.pid, ...nodes.map((n) => n.natsServer?.pid ?? 0)];
    const natsCpu = (): number => natsPids.reduce((t, pid) => t + procCpuUs(`/proc/${pid}/stat`), 0);
    const tpNats = natsCpu();
    await inFlight(DMS, CONCURRENCY, oneDm);
    const tpMs = performance.now() - tpStart;
    const tpMainUs = (mainThreadCpuUs() - tpMain) / DMS;
    const tpNatsUs = (natsCpu() - tpNats) / DMS;
    const tpCommits = nodes.map((n, i) => n.mailboxes.store.committer.commits - commits0[i]);
    if (prof) {
      const { profile } = await prof.post('Profiler.stop');
      writeFileSync(process.env.BENCH_PROFILE!, JSON.stringify(profile));
      prof.disconnect();
    }
    const tpCpuUs = cpuUs(process.cpuUsage(tpCpu)) / DMS;
    const dmRate = rate(DMS, tpMs);

    // Same deposits on a node without peers (no replication): what the local durable deposit alone costs here.
    const solo = await InfonetNode.start({ dataDir: join(root, 'solo'), identity: generateIdentity(), logger: pino({ level: 'silent' }) });
    nodes.push(solo);
    const ncS = await connectBus(solo.natsUrl);
    conns.push(ncS);
    const soloClient = new InfonetClient(ncS, solo.nodeId, 10_000);
    let sseq = 0;
    const soloStart = performance.now();
    const soloCpu = process.cpuUsage();
    await inFlight(DMS, CONCURRENCY, () => {
      const i = sseq++;
      return soloClient.dmDeposit({ sender_id: `solo-${i}`, ciphertext: randomBytes(256).toString('base64'), delivery_class: 'shared', recipient_token: `solo-${i}-${SECRET}` });
    });
    const soloRate = rate(DMS, performance.now() - soloStart);
    const soloCpuUs = cpuUs(process.cpuUsage(soloCpu)) / DMS;

    const raw = stats(rawT);
    const lat = stats(latT);
    console.log('');
    console.log(`case                                              p50         p99        rate`);
    console.log(`raw NATS request/reply A→C (echo, 400 B)    ${f(raw.p50)}  ${f(raw.p99)}   ${String(rawRate).padStart(6)}/s (${CONCURRENCY} in flight)`);
    console.log(`DM deposit on A → visible on C (replicated) ${f(lat.p50)}  ${f(lat.p99)}   ${String(dmRate).padStart(6)}/s (${DMS} DMs, ${CONCURRENCY} in flight)`);
    console.log(`durable DM deposit, no peers (local only)                              ${String(soloRate).padStart(6)}/s (${DMS} DMs, ${CONCURRENCY} in flight)`);
    console.log('');
    console.log(`ratio to raw: p50 ${(lat.p50 / raw.p50).toFixed(1)}×, p99 ${(lat.p99 / raw.p99).toFixed(1)}×, throughput ${(dmRate / rawRate).toFixed(2)}×`);
    console.log(`targets: p99 < 20 ms → ${lat.p99 < 20 ? 'OK' : 'MISSED'} (${lat.p99.toFixed(2)} ms); ≥ 5000 DMs/s → ${dmRate >= 5000 ? 'OK' : 'MISSED'} (${dmRate}/s)`);
    console.log(`CPU of this process per DM: replicated ${tpCpuUs.toFixed(0)} µs (deposit on A + push + accept on B and C; one-core ceiling ${Math.round(1e6 / tpCpuUs)}/s), local-only ${soloCpuUs.toFixed(0)} µs`);
    console.log(`  of which the main JS thread: ${tpMainUs.toFixed(0)} µs per replicated DM (its ceiling ${Math.round(1e6 / tpMainUs)}/s; the rest: other threads — libuv's pool with LevelDB writes and fsyncs, V8's GC helpers)`);
    console.log(`  the 4 nats-servers: ${tpNatsUs.toFixed(0)} µs per replicated DM; all together ${(tpCpuUs + tpNatsUs).toFixed(0)} µs, so ${cpus().length} cores carry at most ~${Math.round((cpus().length * 1e6) / (tpCpuUs + tpNatsUs))} DMs/s`);
    console.log(`load average (1 min) at start ${load0.toFixed(1)}, at end ${loadavg()[0].toFixed(1)} on ${cpus().length} cores`);
    console.log(`fsync'd group commits during the throughput run: ${names.map((n, i) => `${n.toUpperCase()} ${tpCommits[i]} (${(DMS / tpCommits[i]).toFixed(1)} DMs each)`).join(', ')}`);
    const st = (await a.status()).replication!;
    console.log(`A: ${JSON.stringify({ ok: st.metrics.dm_replication_push_ok, rejected: st.metrics.dm_replication_push_rejected, error: st.metrics.dm_replication_push_error, batches: st.metrics.dm_replication_batches, batch_fallback: st.metrics.dm_replication_batch_fallback })}`);
  } finally {
    for (const nc of conns) await nc.drain().catch(() => undefined);
    for (const n of nodes) await n.stop();
    await hub.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
