// npm run bench:replication -- --transport onion — DM replication over a private Tor network (issue 10).
// 3 nodes A, B, C in a full mesh, in this process (so the inbound rate limits can be lifted: this measures the
// pipeline, not the §8.4.6 limiter — the harness's `infonet node run` children cannot lift them), each with its own
// embedded nats-server. A DM deposited on A (durable deposit + durable outbox entry) is pushed by A's peer links;
// "visible on C" = C's mailbox `deposited` event for that msg_id (after C's durable write). Two runs, same code:
//   loopback   peers are http://127.0.0.1:<port> — the baseline, measured first in the same run
//   onion      peers are http://<onion>.onion only: every node runs its managed tor joined to a private Tor network
//              on 127.0.0.1 (harness/tor-network.ts: 3 authorities, 3 relays, a client), publishes its onion service,
//              and reaches the others through its SOCKS port (one rendezvous circuit per peer, kept alive)
// For each: latency (BENCH_ONION_LATENCY_DMS sequential deposits: p50 / p99) and throughput (BENCH_ONION_DMS
// deposits with BENCH_ONION_CONCURRENCY in flight, first deposit → last visible on C: DMs/s).
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { freePort } from '../bus/nats-server.js';
import { joinTorrcLines, startTorNetwork, type TorNetwork } from '../harness/tor-network.js';
import { resolveConfig } from '../node/config.js';
import { InfonetNode } from '../node/infonet-node.js';
import { ONION_KEY_FILE } from '../transports/onion/onion-node.js';
import { loadOrCreateOnionKey } from '../transports/onion/onion-key.js';
import { fmtMs, latencyStats, machineLine, NO_RATE_LIMITS, inFlight, rate, watchDeposits } from './machine.js';

const LATENCY_N = Number(process.env.BENCH_ONION_LATENCY_DMS ?? 100);
const DMS = Number(process.env.BENCH_ONION_DMS ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_ONION_CONCURRENCY ?? 32);
const WARMUP = 10;
const SECRET = randomBytes(16).toString('hex');
const NAMES = ['a', 'b', 'c'] as const;

interface Figures { p50: number; p99: number; rate: number; seconds: number; answered: number; pushOk: number; pushError: number }

const say = (line: string): void => console.log(line);
const load = (): string => loadavg().map((l) => l.toFixed(1)).join(' ');

/** Starts A, B, C with the given peer URLs and per-node extra settings; measures deposit on A → visible on C. */
async function measure(label: string, root: string, urls: Record<string, string>, envOf: (name: string) => Record<string, string>): Promise<Figures> {
  const nodes: InfonetNode[] = [];
  try {
    const t0 = performance.now();
    const started = await Promise.all(NAMES.map(async (name) => {
      const env = {
        MESH_PEER_PUSH_SECRET: SECRET, MESH_RELAY_PEERS: NAMES.filter((n) => n !== name).map((n) => urls[n]).join(','),
        MESH_SYNC_INTERVAL_S: '3600', MESH_RELAY_FAILURE_COOLDOWN_S: '1', ...envOf(name),
      };
      const node = await InfonetNode.start({ dataDir: join(root, name), config: resolveConfig({ env }), logger: pino({ level: 'silent' }), inbound: { rateLimits: NO_RATE_LIMITS } });
      nodes.push(node);
      return node;
    }));
    const [a, , c] = started;
    say(`${label}: 3 nodes up in ${((performance.now() - t0) / 1000).toFixed(1)} s; A advertises ${a.settings.peers.publicPeerUrl}`);

    const onC = watchDeposits(c.mailboxes.events$);
    let n = 0;
    // One mailbox and sender per DM: unsigned replicas count against the pushing peer, 2 per mailbox.
    const deposit = async (): Promise<number> => {
      const i = n++;
      const msgId = `dm_onion_bench_${i}_${randomBytes(6).toString('hex')}`;
      const visible = onC.visible(msgId);
      const t = performance.now();
      await a.mailboxes.deposit({ sender_id: `alice-${i}`, ciphertext: randomBytes(256).toString('base64'), delivery_class: 'shared', recipient_token: `bench-${i}-${SECRET}`, msg_id: msgId });
      await visible;
      return performance.now() - t;
    };
    // Warm-up: the first deposit waits until C's onion descriptor is published and A's circuit to C is built.
    const tw = performance.now();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      deposit(),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${label}: the first DM was not visible on C within 300 s`)), 300_000))),
    ]).finally(() => clearTimeout(timer));
    say(`${label}: first DM visible on C after ${((performance.now() - tw) / 1000).toFixed(1)} s${urls.a.endsWith('.onion') ? ' (descriptor fetch, rendezvous circuit)' : ''}`);
    for (let i = 0; i < WARMUP; i++) await deposit();

    const lat: number[] = [];
    for (let i = 0; i < LATENCY_N; i++) lat.push(await deposit());
    const l = latencyStats(lat);

    const tp0 = performance.now();
    await inFlight(DMS, CONCURRENCY, deposit);
    const ms = performance.now() - tp0;
    onC.close();
    const m = a.replication!.metrics;
    return {
      p50: l.p50, p99: l.p99, rate: rate(DMS, ms), seconds: ms / 1000, answered: a.onion?.transport.answered ?? 0,
      pushOk: m.get('dm_replication_push_ok'), pushError: m.get('dm_replication_push_error'),
    };
  } finally {
    for (const node of nodes) await node.stop().catch(() => undefined);
  }
}

async function main(): Promise<void> {
  say(machineLine());
  say(`load average at start ${load()} (1/5/15 min) on ${cpus().length} cores`);
  const root = mkdtempSync(join(tmpdir(), 'infonet-bench-onion-'));
  let net: TorNetwork | undefined;
  try {
    // Baseline: the same three nodes peered over loopback HTTP.
    const ports = Object.fromEntries(await Promise.all(NAMES.map(async (n) => [n, await freePort()] as const)));
    const loopUrls = Object.fromEntries(NAMES.map((n) => [n, `http://127.0.0.1:${ports[n]}`]));
    mkdirSync(join(root, 'loopback'));
    const loop = await measure('loopback', join(root, 'loopback'), loopUrls, (n) => ({ INFONET_HTTP_PORT: String(ports[n]), MESH_PUBLIC_PEER_URL: loopUrls[n] }));

    // Onion: a private Tor network, every node with its managed tor; peers are onion URLs only.
    const tn = performance.now();
    net = await startTorNetwork({ dir: join(root, 'tor-net') });
    say(`private Tor network (3 authorities, 3 relays, client) ready after ${((performance.now() - tn) / 1000).toFixed(1)} s`);
    const torrcExtra = join(root, 'tor-net.torrc');
    writeFileSync(torrcExtra, joinTorrcLines(net).join('\n') + '\n');
    const onionRoot = join(root, 'onion');
    const onionUrls = Object.fromEntries(NAMES.map((n) => [n, loadOrCreateOnionKey(join(onionRoot, n, ONION_KEY_FILE)).url]));
    const onion = await measure('onion', onionRoot, onionUrls, () => ({ INFONET_TOR: 'true', INFONET_TOR_TORRC_EXTRA: torrcExtra, MESH_SYNC_TIMEOUT_S: '60' }));

    say('');
    say(`case (3 nodes, full mesh)                      p50          p99        rate`);
    say(`loopback HTTP: deposit on A → visible on C ${fmtMs(loop.p50)}  ${fmtMs(loop.p99)}   ${String(loop.rate).padStart(5)}/s (${DMS} DMs, ${CONCURRENCY} in flight, ${loop.seconds.toFixed(1)} s)`);
    say(`onion (Tor):   deposit on A → visible on C ${fmtMs(onion.p50)}  ${fmtMs(onion.p99)}   ${String(onion.rate).padStart(5)}/s (${DMS} DMs, ${CONCURRENCY} in flight, ${onion.seconds.toFixed(1)} s)`);
    say(`onion / loopback: p50 ${(onion.p50 / loop.p50).toFixed(1)}×, p99 ${(onion.p99 / loop.p99).toFixed(1)}×, throughput ${(onion.rate / loop.rate).toFixed(2)}×`);
    say(`A over onion: peer requests answered over onion ${onion.answered}; pushes ok ${onion.pushOk}, failed ${onion.pushError} (loopback: ok ${loop.pushOk}, failed ${loop.pushError}); latency over ${LATENCY_N} sequential DMs`);
    say(`load average at end ${load()}`);
  } finally {
    await net?.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
