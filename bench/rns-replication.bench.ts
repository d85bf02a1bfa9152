// node --import tsx bench/rns-replication.bench.ts — DM replication over a direct RNS link (issue 11).
// Two nodes linked ONLY over RNS: B runs an RNS TCP server interface on 127.0.0.1, A connects to it (no HTTP peers, no
// federation; each node has its own embedded nats-server). A DM deposited on A (durable deposit + durable outbox entry)
// is pushed by A's peer link as RNS request messages (chunked, encrypted, proven) to B; "visible" = B's mailbox
// `deposited` event for that msg_id (after B's durable write).
//   baseline     raw TCP echo round trip on 127.0.0.1 (64-byte messages), same run
//   rns rtt      one-chunk RNS request → one-chunk answer between two bare endpoints (encrypt, prove, both ways)
//   latency      sequential deposits on A → visible on B: p50 / p99
//   throughput   BENCH_RNS_DMS deposits with BENCH_RNS_CONCURRENCY in flight, first deposit → last visible: DMs/s
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { freePort } from '../bus/nats-server.js';
import { resolveConfig } from '../node/config.js';
import { InfonetNode } from '../node/infonet-node.js';
import { RnsEndpoint } from '../transports/rns/endpoint.js';
import { RnsIdentity } from '../transports/rns/identity.js';
import { loadOrCreateIdentity } from '../transports/rns/identity-file.js';
import { INFONET_NODE_NAME, singleDestinationHash } from '../transports/rns/names.js';
import { TcpClientInterface, TcpServerInterface } from '../transports/rns/tcp-interface.js';
import { fmtMs, latencyStats, machineLine, NO_RATE_LIMITS, inFlight, rate, watchDeposits } from './machine.js';

const LATENCY_N = Number(process.env.BENCH_RNS_LATENCY_DMS ?? 200);
const DMS = Number(process.env.BENCH_RNS_DMS ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_RNS_CONCURRENCY ?? 32);
const RTT_N = 500;
const RATE_LIMITS = NO_RATE_LIMITS;
const SECRET = randomBytes(16).toString('hex');

const f = fmtMs;
const stats = latencyStats;

async function tcpBaseline(): Promise<number[]> {
  const server = createServer((s) => s.on('data', (d) => s.write(d)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const sock = createConnection({ host: '127.0.0.1', port });
  sock.setNoDelay(true);
  await new Promise<void>((r) => sock.once('connect', () => r()));
  const msg = randomBytes(64);
  const times: number[] = [];
  for (let i = 0; i < RTT_N; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      let got = 0;
      const on = (d: Buffer) => {
        got += d.length;
        if (got >= msg.length) {
          sock.off('data', on);
          resolve();
        }
      };
      sock.on('data', on);
      sock.write(msg);
    });
    times.push(performance.now() - t0);
  }
  sock.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  return times;
}

async function rnsRoundTrip(): Promise<number[]> {
  const a = new RnsEndpoint({ identity: RnsIdentity.generate() });
  const b = new RnsEndpoint({ identity: RnsIdentity.generate() });
  b.onMessage = (m) => void b.sendMessage(a.destinationHex, m).catch(() => undefined);
  let answered: (() => void) | null = null;
  a.onMessage = () => answered?.();
  const server = new TcpServerInterface('srv', b, { host: '127.0.0.1', port: 0 });
  const addr = await server.start();
  const client = new TcpClientInterface('cli', a, addr);
  while (!a.knownPeers().has(b.destinationHex) || !b.knownPeers().has(a.destinationHex)) await new Promise((r) => setTimeout(r, 10));
  const times: number[] = [];
  const msg = randomBytes(64);
  for (let i = 0; i < RTT_N; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      answered = resolve;
      void a.sendMessage(b.destinationHex, msg).catch(() => undefined);
    });
    times.push(performance.now() - t0);
  }
  client.stop();
  await server.stop();
  a.close();
  b.close();
  return times;
}

async function main(): Promise<void> {
  console.log(machineLine());
  const base = stats(await tcpBaseline());
  console.log(`baseline  raw TCP echo round trip (64 B, ${RTT_N}×)          p50 ${f(base.p50)}   p99 ${f(base.p99)}`);
  const rtt = stats(await rnsRoundTrip());
  console.log(`rns rtt   1-chunk message + 1-chunk answer, proofs (${RTT_N}×)  p50 ${f(rtt.p50)}   p99 ${f(rtt.p99)}`);

  const root = mkdtempSync(join(tmpdir(), 'infonet-bench-rns-'));
  const dirs = { a: join(root, 'a'), b: join(root, 'b') };
  const url = (dir: string) => `rns://${singleDestinationHash(INFONET_NODE_NAME, loadOrCreateIdentity(dir).hash).toString('hex')}`;
  const urls = { a: url(dirs.a), b: url(dirs.b) };
  const port = await freePort();
  const nodes: InfonetNode[] = [];
  try {
    const start = async (dir: string, env: Record<string, string>) => {
      const node = await InfonetNode.start({ dataDir: dir, config: resolveConfig({ env: { MESH_PEER_PUSH_SECRET: SECRET, MESH_RNS_ANNOUNCE_INTERVAL_S: '0', ...env } }), logger: pino({ level: 'silent' }), inbound: { rateLimits: RATE_LIMITS } });
      nodes.push(node);
      return node;
    };
    const b = await start(dirs.b, { MESH_RELAY_PEERS: urls.a, MESH_RNS_TCP_LISTEN: `127.0.0.1:${port}` });
    const a = await start(dirs.a, { MESH_RELAY_PEERS: urls.b, MESH_RNS_TCP_CONNECT: `127.0.0.1:${port}` });
    console.log(`2 nodes linked only over RNS (direct TCP interface on 127.0.0.1), ${a.rns!.endpoint.destinationHex.slice(0, 8)}… → ${b.rns!.endpoint.destinationHex.slice(0, 8)}…`);

    const onB = watchDeposits(b.mailboxes.events$);
    let n = 0;
    const deposit = async (): Promise<void> => {
      const i = n++;
      const msgId = `dm_rns_bench_${i}_${randomBytes(6).toString('hex')}`;
      const visible = onB.visible(msgId);
      const tok = randomBytes(16).toString('hex');
      await a.mailboxes.deposit({ sender_id: `alice-${i}`, ciphertext: randomBytes(48).toString('base64'), delivery_class: 'shared', recipient_token: tok, msg_id: msgId });
      await visible;
    };
    // warm-up: path known, links up
    for (let i = 0; i < 20; i++) await deposit();

    const lat: number[] = [];
    for (let i = 0; i < LATENCY_N; i++) {
      const t0 = performance.now();
      await deposit();
      lat.push(performance.now() - t0);
    }
    const l = stats(lat);
    console.log(`latency   deposit on A → visible on B (${LATENCY_N} sequential)     p50 ${f(l.p50)}   p99 ${f(l.p99)}`);

    const t0 = performance.now();
    await inFlight(DMS, CONCURRENCY, deposit);
    const ms = performance.now() - t0;
    console.log(`throughput ${DMS} DMs, ${CONCURRENCY} in flight: ${rate(DMS, ms)} DMs/s (${(ms / 1000).toFixed(1)} s)`);
    const st = a.rns!.status();
    console.log(`A's RNS counters: chunks sent ${st.counters.chunksSent}, retransmissions ${st.counters.chunkRetransmissions}, proofs matched ${st.counters.proofsMatched}, requests ${st.counters.requestsSent}`);
  } finally {
    for (const node of nodes) await node.stop();
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
