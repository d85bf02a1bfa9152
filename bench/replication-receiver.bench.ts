// npx tsx bench/replication-receiver.bench.ts — what a RECEIVING node (B or C of bench:replication) spends per
// replicated envelope, measured alone: the node runs in a child process of its own (bench/child-node.ts, with its
// embedded nats-server), and this process plays peer A, sending pre-built, pre-signed
// `POST /api/mesh/dm/replicate-envelopes` requests
// (BENCH_BATCH envelopes each — ~19 is what A's peer links send in bench:replication — BENCH_WINDOW requests in
// flight, as a peer link keeps). The sender's own work (JSON, HMAC, HTTP client) is in THIS process and is not
// counted: the figures are the child's CPU (all its threads, from /proc) and its nats-server's, per envelope.
//   BENCH_ENVELOPES (default 20000), BENCH_BATCH (19), BENCH_WINDOW (4), BENCH_PROFILE=<file> (child's main thread,
//   throughput phase only), BENCH_HEAP_PROFILE=<file> (sampled allocations, same phase).
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request, Agent } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { freePort } from '../bus/nats-server.js';
import { signPeerRequest } from '../protocol/peer-auth.js';
import { childNode } from './child-node.js';
import { inFlight, machineLine, mainThreadCpuUs, procCpuUs, rate, threadCpuUs } from './machine.js';

const ENVELOPES = Number(process.env.BENCH_ENVELOPES ?? 20_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 19);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 4);
const WARMUP_REQUESTS = 100;

function envelope(i: number, tag: string): Record<string, unknown> {
  const token = `bench-${i}-${tag}`;
  return {
    msg_id: `dm_recv_${i}_${tag}`, mailbox_key: createHash('sha256').update(token).digest('hex'), recipient_id: '',
    recipient_token: '', sender_id: `bench-${i}`, sender_block_ref: `ref:${createHash('sha256').update(`ref${i}`).digest('hex')}`,
    sender_seal: '', ciphertext: randomBytes(256).toString('base64'), timestamp: Date.now() / 1000, delivery_class: 'shared',
    relay_salt: '', payload_format: 'dm1', session_welcome: '',
  };
}

interface Prepared { body: Buffer; headers: Record<string, string> }

function prepare(from: number, n: number, tag: string, selfUrl: string, secret: string): Prepared[] {
  const out: Prepared[] = [];
  for (let i = from; i < from + n; i += BATCH) {
    const envs = [];
    for (let j = i; j < Math.min(from + n, i + BATCH); j++) envs.push(envelope(j, tag));
    const body = Buffer.from(JSON.stringify({ envelopes: envs }), 'utf8');
    const auth = signPeerRequest(selfUrl, body, { pushSecret: secret, peerSecrets: '' } as never);
    out.push({ body, headers: { 'content-type': 'application/json', 'content-length': String(body.length), ...auth } });
  }
  return out;
}

function post(port: number, agent: Agent, p: Prepared): Promise<{ accepted: number; duplicates: number; rejected: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/api/mesh/dm/replicate-envelopes', headers: p.headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          const j = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          if (res.statusCode !== 200 || j.ok !== true) reject(new Error(`HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString('utf8').slice(0, 200)}`));
          else resolve(j);
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on('error', reject);
    req.end(p.body);
  });
}

async function main(): Promise<void> {
  console.log(machineLine());
  const root = mkdtempSync(join(tmpdir(), 'infonet-bench-recv-'));
  const secret = randomBytes(16).toString('hex');
  const [port, senderPort] = [await freePort(), await freePort()];
  const senderUrl = `http://127.0.0.1:${senderPort}`;
  const node = await childNode('b', {
    dataDir: join(root, 'b'),
    env: { MESH_PEER_PUSH_SECRET: secret, MESH_PUBLIC_PEER_URL: `http://127.0.0.1:${port}`, MESH_RELAY_PEERS: senderUrl, INFONET_HTTP_PORT: String(port) },
  });
  try {
    const { pid, natsPid } = node;
    const tag = randomBytes(4).toString('hex');
    const agent = new Agent({ keepAlive: true, maxSockets: WINDOW });
    const warm = prepare(0, WARMUP_REQUESTS * BATCH, `w${tag}`, senderUrl, secret);
    await inFlight(warm.length, WINDOW, (i) => post(port, agent, warm[i]));
    const reqs = prepare(0, ENVELOPES, tag, senderUrl, secret);
    const load0 = loadavg()[0];
    const commits0 = await node.commits();
    if (process.env.BENCH_PROFILE) await node.profile();
    if (process.env.BENCH_HEAP_PROFILE) await node.heapProfile();
    const cpu0 = procCpuUs(`/proc/${pid}/stat`);
    const main0 = mainThreadCpuUs(pid);
    const nats0 = procCpuUs(`/proc/${natsPid}/stat`);
    const threads0 = threadCpuUs(pid);
    const t0 = performance.now();
    let accepted = 0;
    let other = 0;
    await inFlight(reqs.length, WINDOW, async (i) => {
      const r = await post(port, agent, reqs[i]);
      accepted += r.accepted;
      other += r.duplicates + r.rejected;
    });
    const ms = performance.now() - t0;
    const cpu = (procCpuUs(`/proc/${pid}/stat`) - cpu0) / ENVELOPES;
    const mainT = (mainThreadCpuUs(pid) - main0) / ENVELOPES;
    const nats = (procCpuUs(`/proc/${natsPid}/stat`) - nats0) / ENVELOPES;
    const byThread = [...threadCpuUs(pid)].map(([name, us]) => [name, (us - (threads0.get(name) ?? 0)) / ENVELOPES] as const)
      .filter(([, us]) => us >= 0.5).sort((a, b) => b[1] - a[1]).map(([name, us]) => `${name} ${us.toFixed(0)}`).join(', ');
    if (process.env.BENCH_PROFILE) await node.profile(process.env.BENCH_PROFILE);
    if (process.env.BENCH_HEAP_PROFILE) await node.heapProfile(process.env.BENCH_HEAP_PROFILE);
    const commits = (await node.commits()) - commits0;
    const live = (await node.status()).mailboxes.live;
    agent.destroy();
    console.log(`receiver: ${ENVELOPES} envelopes in ${reqs.length} requests of ≤ ${BATCH}, ${WINDOW} in flight: ${rate(ENVELOPES, ms)} envelopes/s`);
    console.log(`  accepted ${accepted}, duplicates/rejected ${other}; fsync'd group commits ${commits} (${(ENVELOPES / commits).toFixed(1)} envelopes each); live actors ${live}`);
    console.log(`  CPU per envelope: receiver process ${cpu.toFixed(0)} µs (main thread ${mainT.toFixed(0)} µs), its nats-server ${nats.toFixed(0)} µs`);
    console.log(`  by thread (µs per envelope): ${byThread}`);
    console.log(`load average (1 min) at start ${load0.toFixed(1)}, at end ${loadavg()[0].toFixed(1)} on ${cpus().length} cores`);
    if (accepted !== ENVELOPES) process.exitCode = 1;
  } finally {
    await node.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
