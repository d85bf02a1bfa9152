// npm run bench:bus — command round trips through the node (NATS → service → actor → reply) against the raw NATS
// request/reply round trip measured in the same run on the same server (an echo responder). Target: status ≤ 3× raw.
// The DM deposit includes a durable (fsync'd, group-committed) LevelDB write, so its ratio is reported, not targeted.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectBus } from '../bus/connect.js';
import { pino } from 'pino';
import { InfonetClient } from '../bus/client.js';
import { encode } from '../bus/codec.js';
import { natsServerVersion } from '../bus/nats-server.js';
import { cmdSubject } from '../bus/subjects.js';
import { InfonetNode } from '../node/infonet-node.js';
import { machineLine, percentile } from './machine.js';

const N = Number(process.env.BENCH_ROUNDS ?? 3000);
const WARMUP = 300;

async function measure(n: number, fn: (i: number) => Promise<unknown>): Promise<{ p50: number; p99: number; mean: number }> {
  for (let i = 0; i < WARMUP; i++) await fn(-1 - i);
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await fn(i);
    t.push(performance.now() - s);
  }
  t.sort((a, b) => a - b);
  return { p50: percentile(t, 50), p99: percentile(t, 99), mean: t.reduce((a, b) => a + b, 0) / t.length };
}

const f = (ms: number): string => `${(ms * 1000).toFixed(0).padStart(5)} µs`;

async function main(): Promise<void> {
  console.log(machineLine());
  console.log(`nats-server ${natsServerVersion() ?? '?'}; ${N} sequential round trips per case (after ${WARMUP} warm-up)`);
  const dir = mkdtempSync(join(tmpdir(), 'infonet-bench-bus-'));
  const node = await InfonetNode.start({ dataDir: dir, logger: pino({ level: 'silent' }) });
  // The node's bus is authenticated: connect with its operator credential, and echo on a subject that credential
  // may publish to (its own command space), answered by a connection with the node's service credential (which may
  // reply), so the raw baseline crosses the same server.
  const nc: NatsConnection = await connectBus(node.natsUrl);
  const echoSubject = cmdSubject(node.nodeId, 'bench', 'echo');
  const responder = await connectBus(node.natsUrl, { creds: join(dir, 'nats', 'auth', 'service.nk') }); // may reply
  const echo = responder.subscribe(echoSubject, { callback: (_e, m) => { m.respond(m.data); } });
  await responder.flush();
  const client = new InfonetClient(nc, node.nodeId);
  try {
    const statusBody = encode(null);
    const raw = await measure(N, () => nc.request(echoSubject, statusBody, { timeout: 5000 }));
    const status = await measure(N, () => client.chainStatus());
    const nodeStatus = await measure(N, () => client.status());
    // distinct senders and mailboxes so no cap is hit; every deposit is a durable write
    const deposit = await measure(N, (i) => client.dmDeposit({
      sender_id: `bench-${i}`, ciphertext: 'c2VhbGVkIGJ5dGVzIGZvciB0aGUgYmVuY2g=', delivery_class: 'shared',
      recipient_token: `bench-token-${Math.floor((i + WARMUP) / 40)}-${i < 0 ? 'w' : 'm'}`, msg_id: `bench-${i}`,
    }));
    const rows: Array<[string, { p50: number; p99: number }]> = [
      ['raw NATS request/reply (echo)', raw], ['chain.status command', status], ['node.status command', nodeStatus], ['dm.deposit command (durable)', deposit],
    ];
    console.log('');
    console.log('case                              p50        p99      p50 ratio  p99 ratio');
    for (const [name, r] of rows) {
      console.log(`${name.padEnd(32)} ${f(r.p50)}   ${f(r.p99)}   ${(r.p50 / raw.p50).toFixed(2).padStart(6)}×   ${(r.p99 / raw.p99).toFixed(2).padStart(6)}×`);
    }
    const ok = status.p50 / raw.p50 <= 3;
    console.log('');
    console.log(`target: status command p50 ≤ 3× raw round trip → ${(status.p50 / raw.p50).toFixed(2)}× ${ok ? 'OK' : 'MISSED'}`);
    console.log(`dm.deposit p50 = ${(deposit.p50 / raw.p50).toFixed(2)}× raw (includes an fsync'd LevelDB batch)`);
  } finally {
    echo.unsubscribe();
    await responder.drain();
    await nc.drain();
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
