// npm run bench:sync [-- --events N] — a fresh node catching up a peer's chain of N events (issue 14): once over
// loopback HTTP, once over the bus (nats://<node id> peer, signed), each driven by the node's own sync scheduler
// (§9.3: 5 rounds a cycle, the first page of 100, pages asked for ahead of up to 500 over HTTP; the node's scheduler
// runs the next cycle at once while the peer has more). The serving peer runs in a process of its
// own, as peers do (BENCH_LAYOUT=single: in this process, the layout before); its CPU and the nats-servers' are
// printed. Baseline in the same run: local chain ingest of the same events (verify + validate + fsync'd batch, pages
// of 500, as bench:chain). Target: each sync rate ≥ 0.8 × local ingest. A second baseline, printed beside it: the
// same pages ingested by a running node without peers (its DM hydration and bus events included, as on a syncing node). The chain is the cached mixed
// fixture (.infonet/bench/chain-N).
// Each line shows CPU µs per event (all threads of this process, and the main thread alone): on a shared machine
// those compare across runs, wall rates do not. BENCH_THREADS=1 splits the CPU by thread; BENCH_PROFILE=<dir>
// writes a V8 CPU profile of each phase (local.cpuprofile, http.cpuprofile, bus.cpuprofile).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { openChainAt } from '../actors/open-chain.js';
import { freePort, natsServerVersion, startNatsServer } from '../bus/nats-server.js';
import { resolveConfig } from '../node/config.js';
import { InfonetNode } from '../node/infonet-node.js';
import type { ChainEvent } from '../protocol/event.js';
import { generateIdentity } from '../protocol/identity.js';
import { defaultSettings } from '../protocol/settings.js';
import { busPeerUrl } from '../transports/bus-peer-protocol.js';
import { chainFixture } from './fixtures/chain-fixture.js';
import { benchNode, LAYOUT } from './child-node.js';
import { machineLine, mainThreadCpuUs, procCpuUs, rate, startCpuProfile, threadCpuUs } from './machine.js';

const SECRET = randomBytes(16).toString('hex');
const INGEST_PAGE = 500;
const READ_SLICE = 50_000;

interface Phase { rate: number; cpuMs: number; mainMs: number; wallS: number; load: number; threads: Map<string, number>; loopBusy?: number }

/** CPU (user + system, all threads of this process; and the main thread's) and wall time since the call. */
function cpuSince(): () => { cpuMs: number; mainMs: number; wallS: number } {
  const c0 = process.cpuUsage();
  const m0 = mainThreadCpuUs();
  const t0 = performance.now();
  return () => {
    const c = process.cpuUsage(c0);
    return { cpuMs: (c.user + c.system) / 1000, mainMs: (mainThreadCpuUs() - m0) / 1000, wallS: (performance.now() - t0) / 1000 };
  };
}

/**
 * BENCH_THREADS=1: CPU ms by thread name since the call, added into `into` (threads that ended meanwhile are
 * missing; a thread started meanwhile counts its whole life).
 */
function threadSplit(into: Map<string, number>): () => void {
  if (!process.env.BENCH_THREADS) return () => undefined;
  const t0 = threadCpuUs();
  return () => {
    for (const [k, v] of threadCpuUs()) into.set(k, (into.get(k) ?? 0) + (v - (t0.get(k) ?? 0)) / 1000);
  };
}
const threadLine = (split: Map<string, number>, n: number): string => (split.size === 0 ? '' : '\n    threads µs/event: '
  + [...split].filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${((v / n) * 1000).toFixed(0)}`).join(', '));

/**
 * BENCH_PROFILE=<dir>: a V8 CPU profile (main thread) of each catch-up phase alone, <dir>/<phase>.cpuprofile.
 * Returns the function that stops it.
 */
async function profilePhase(name: string): Promise<() => Promise<void>> {
  const dir = process.env.BENCH_PROFILE;
  if (!dir) return async () => undefined;
  const stop = await startCpuProfile();
  return async () => {
    mkdirSync(dir, { recursive: true });
    await stop(join(dir, `${name}.cpuprofile`));
  };
}
// A long sync interval: the catching-up node's first cycle runs at boot and each next one at once while the peer has
// more (its own scheduler); none runs later in the bench.
const QUIET = { MESH_PEER_PUSH_SECRET: SECRET, MESH_SYNC_INTERVAL_S: '86400' };

async function main(): Promise<void> {
  // --phases: which catch-ups to run, in order (default http,bus; a phase may repeat, e.g. bus,bus for A/B runs).
  // --peer-limits default: the serving peer keeps its inbound rate limits (§9.4: 600 sync requests a minute per client),
  // as a deployed peer does; by default they are off, so the figure is the pipeline's, not the limiter's.
  const { values } = parseArgs({ options: { events: { type: 'string' }, phases: { type: 'string' }, 'peer-limits': { type: 'string' } } });
  const peerLimits = values['peer-limits'] === 'default' ? 'default' : 'off';
  const phases = (values.phases ?? 'http,bus').split(',').map((x) => x.trim());
  if (phases.some((x) => x !== 'http' && x !== 'bus')) throw new Error(`--phases: http and/or bus, got ${values.phases}`);
  const n = Number(values.events ?? process.env.BENCH_EVENTS ?? 100_000);
  const started = performance.now();
  console.log(machineLine());
  console.log(`load average at start: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log(`nats-server ${natsServerVersion() ?? '?'}; chain of ${n} events (cached under .infonet/bench/chain-${n}; generated on first use)`);
  const fixture = await chainFixture(n);
  const root = mkdtempSync(join(tmpdir(), 'infonet-bench-sync-'));
  const nodes: InfonetNode[] = [];
  let stopPeer = async (): Promise<void> => undefined;
  const hub = await startNatsServer({ serverName: 'bench_sync_hub', leafListen: true, monitor: false, configDir: join(root, 'hub') });
  try {
    const dirA = join(root, 'a');
    execFileSync('cp', ['-r', fixture, dirA]);

    // Baseline: the same events ingested locally into a fresh durable chain. They are read from the fixture in
    // slices of READ_SLICE outside the clock (a 1M-event array would not fit the default heap).
    const src = await openChainAt(dirA, { settings: defaultSettings().chain });
    type Ingester = { ingest(events: readonly unknown[], maxAgeS?: number): Promise<{ accepted: number; rejected: unknown[] }> };
    const ingestAll = async (label: string, into: Ingester): Promise<Phase> => {
      let ingestMs = 0;
      let ingestCpuMs = 0;
      let ingestMainMs = 0;
      const ingestThreads = new Map<string, number>();
      const stopLocalProfile = await profilePhase(label); // includes the fixture reads between the clocked slices
      for (let from = 0; from < n; from += READ_SLICE) {
        const events: ChainEvent[] = [];
        for (let i = from; i < Math.min(n, from + READ_SLICE); i += 5000) events.push(...(await src.chain.readRange(i, Math.min(5000, n - i))));
        const t = performance.now();
        const cpu = cpuSince();
        const threads = threadSplit(ingestThreads);
        for (let i = 0; i < events.length; i += INGEST_PAGE) {
          const r = await into.ingest(events.slice(i, i + INGEST_PAGE), 0);
          if (r.accepted !== Math.min(INGEST_PAGE, events.length - i)) throw new Error(`${label}: ingest rejected: ${JSON.stringify(r.rejected[0])}`);
        }
        ingestMs += performance.now() - t;
        const used = cpu();
        threads();
        ingestCpuMs += used.cpuMs;
        ingestMainMs += used.mainMs;
        if (from > 0 && from % 200_000 === 0) process.stderr.write(`${label}: ${from}/${n} events\n`);
      }
      await stopLocalProfile();
      return { rate: rate(n, ingestMs), cpuMs: ingestCpuMs, mainMs: ingestMainMs, threads: ingestThreads, wallS: ingestMs / 1000, load: loadavg()[0] };
    };
    const local = await openChainAt(join(root, 'local'), { settings: defaultSettings().chain });
    const baseline = await ingestAll('local', local.chain);
    const ingestRate = baseline.rate;
    await local.close();
    // Second baseline: the same pages ingested by a running node without peers — the chain ingest plus what a node does
    // with accepted events (DM hydration into its relay, events on the bus), which a syncing node does too.
    const solo = await InfonetNode.start({
      dataDir: join(root, 'solo'), identity: generateIdentity(), leafRemote: hub.leafUrl!, logger: pino({ level: 'silent' }),
      config: resolveConfig({ env: { ...QUIET } }),
    });
    nodes.push(solo);
    const nodeBaseline = await ingestAll('node', solo.chain);
    await solo.stop();
    nodes.splice(nodes.indexOf(solo), 1);
    await src.close();

    const idHttp = generateIdentity();
    const idBus = generateIdentity();
    const portA = await freePort();
    const urlA = `http://127.0.0.1:${portA}`;
    const envA = { ...QUIET, INFONET_HTTP_PORT: String(portA), MESH_PUBLIC_PEER_URL: urlA, MESH_RELAY_PEERS: busPeerUrl(idBus.nodeId) };
    const a = await benchNode('a', { dataDir: dirA, env: envA, leafRemote: hub.leafUrl!, rateLimits: peerLimits });
    console.log(`serving peer: inbound rate limits ${peerLimits === 'off' ? 'off (--peer-limits default: as deployed)' : 'as deployed (600 sync requests a minute per client)'}`);
    stopPeer = () => a.stop();
    const peerAt = await a.status();
    if (peerAt.height !== n) throw new Error(`peer has ${peerAt.height} events, expected ${n}`);
    // Other processes whose CPU a catch-up costs: the serving peer (its own process by default) and the nats-servers.
    const peerPids = a.pid === process.pid ? [] : [a.pid];
    const cpuOf = (pids: number[]): number => pids.reduce((t, p) => t + procCpuUs(`/proc/${p}/stat`), 0);

    const catchUp = async (name: string, identity: typeof idHttp, peer: string, extra: Record<string, string>): Promise<Phase & { cycles: number; peerMs: number; natsMs: number }> => {
      const b = await InfonetNode.start({
        dataDir: join(root, name), identity, leafRemote: hub.leafUrl!, logger: pino({ level: 'silent' }),
        config: resolveConfig({ env: { ...QUIET, ...extra, MESH_RELAY_PEERS: peer } }),
      });
      nodes.push(b);
      // The clock starts with the node up; the boot-time cycle (if any) counts towards the catch-up.
      const stopProfile = await profilePhase(name);
      if (process.env.BENCH_PROFILE) await a.profile();
      const natsPids = [hub.pid, a.natsPid, b.natsServer?.pid ?? 0].filter((p) => p > 0);
      const peer0 = cpuOf(peerPids);
      const nats0 = cpuOf(natsPids);
      const t0 = performance.now();
      const cpu = cpuSince();
      const split = new Map<string, number>();
      const threads = threadSplit(split);
      const elu0 = performance.eventLoopUtilization();
      // The node's own scheduler does the catch-up (it starts a cycle at boot and the next one at once while the peer
      // has more); this only watches the chain grow, and gives up when a cycle fails.
      await new Promise<void>((resolve, reject) => {
        let shown = 0;
        const watch = b.chain.events$.subscribe((e) => {
          if (e.kind !== 'ingested') return;
          if (b.chain.length - shown >= 200_000) process.stderr.write(`${name}: ${(shown = b.chain.length)}/${n} events\n`);
          if (b.chain.length >= n) done();
        });
        const sync = b.inbound!.sync;
        const check = setInterval(() => {
          const st = sync.state();
          if (st.lastOutcome !== 'never' && st.lastOutcome !== 'ok') done(new Error(`${name}: sync cycle failed: ${JSON.stringify(st)}`));
        }, 100);
        const done = (err?: Error): void => {
          watch.unsubscribe();
          clearInterval(check);
          if (err) reject(err);
          else resolve();
        };
        if (b.chain.length >= n) done();
      });
      const cycles = b.inbound!.sync.cycles();
      const ms = performance.now() - t0;
      const used = cpu();
      threads();
      const loopBusy = performance.eventLoopUtilization(elu0).utilization;
      const peerMs = (cpuOf(peerPids) - peer0) / 1000;
      const natsMs = (cpuOf(natsPids) - nats0) / 1000;
      await stopProfile();
      if (process.env.BENCH_PROFILE) await a.profile(join(process.env.BENCH_PROFILE, `${name}-peer.cpuprofile`));
      if (b.chain.head !== (await a.status()).head) throw new Error(`${name}: head differs after catch-up`);
      await b.stop();
      nodes.splice(nodes.indexOf(b), 1);
      return { rate: rate(n, ms), cycles, ...used, peerMs, natsMs, threads: split, loopBusy, load: loadavg()[0] };
    };
    // "µs CPU/event" is this process's (the catching-up node and its crypto pool threads; in BENCH_LAYOUT=single the
    // serving peer too); the catch-up lines add the serving peer's process and the nats-servers: on a shared machine
    // the wall-clock ratio moves with the neighbours' load, CPU per event much less. Each line is printed when its
    // phase ends (a long run shows what it has so far).
    const perEvent = (ms: number): string => ((ms / n) * 1000).toFixed(0).padStart(4);
    const cpuCol = (p: Phase): string => `${perEvent(p.cpuMs)} µs CPU/event (main thread ${perEvent(p.mainMs)}${p.loopBusy === undefined ? '' : `, event loop busy ${(p.loopBusy * 100).toFixed(0)} %`}), ${(p.wallS).toFixed(0)} s, load ${p.load.toFixed(1)}`;
    console.log('');
    console.log(`local chain ingest (durable, pages of ${INGEST_PAGE}): ${String(ingestRate).padStart(7)} events/s                     ${cpuCol(baseline)}${threadLine(baseline.threads, n)}`);
    console.log(`local ingest into a node without peers:  ${String(nodeBaseline.rate).padStart(7)} events/s                     ${cpuCol(nodeBaseline)}${threadLine(nodeBaseline.threads, n)}`);
    const othersCol = (p: { cpuMs: number; peerMs: number; natsMs: number }): string => `\n    serving peer ${LAYOUT === 'processes' ? perEvent(p.peerMs) : 'in this process'}, nats-servers ${perEvent(p.natsMs)}; all processes ${perEvent(p.cpuMs + p.peerMs + p.natsMs)} µs CPU/event`;
    const vsNode = (r: number): string => `; vs ingest into a node ${(r / nodeBaseline.rate).toFixed(2)}`;
    // Loopback HTTP is clearnet under §9.1: allowed explicitly for this peer.
    for (const [i, phase] of phases.entries()) {
      // Each run a fresh node with a data directory of its own (the bus one signs as the node id A's MESH_RELAY_PEERS names).
      const run = `${phase}${phases.indexOf(phase) === i ? '' : `-${i}`}`;
      const p = phase === 'http'
        ? await catchUp(run, idHttp, urlA, { MESH_INFONET_ALLOW_CLEARNET_SYNC: 'true' })
        : await catchUp(run, idBus, busPeerUrl(a.nodeId), {});
      const label = phase === 'http' ? 'sync over loopback HTTP:                 ' : 'sync over the bus (nats://<node id>):    ';
      console.log(`${label} ${String(p.rate).padStart(7)} events/s  ratio ${(p.rate / ingestRate).toFixed(2)} (target >= 0.8${vsNode(p.rate)})  ${cpuCol(p)}; ${p.cycles} cycles${othersCol(p)}${threadLine(p.threads, n)}`);
    }
    console.log(`load average now: ${loadavg().map((x) => x.toFixed(2)).join(' ')}; total ${((performance.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    await stopPeer().catch(() => undefined);
    for (const node of nodes) await node.stop().catch(() => undefined);
    await hub.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
