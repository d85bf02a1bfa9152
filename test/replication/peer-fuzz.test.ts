// 20,000 hostile inputs against the peer routes over real HTTP (issue 8 item 5): no HTTP 500, only the statuses the
// spec names, and the chain and the mailboxes change exactly by what the answers say was accepted — rejected input
// changes nothing. The seed is printed so a failure can be replayed (FUZZ_SEED=<n>).
import http from 'node:http';
import { createPeerApplication } from '../../peer/app.js';
import { generateIdentity } from '../../protocol/identity.js';
import type { PeerRouteName } from '../../protocol/peer-routes.js';
import { startPeerHttpServer, type PeerHttpServer } from '../../transports/http-server.js';
import { fuzzRequests, type FuzzRequest } from './peer-fuzz-inputs.js';
import { openFixture, removeTempDirs, sharedEnvelope, type Fixture } from './inbound-helpers.js';

const PEER = 'https://fuzz-peer.example';
const SECRET = 'fuzz-secret';
const INPUTS = Number(process.env.FUZZ_INPUTS ?? 20_000);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const ALLOWED = new Set([200, 400, 403, 404, 405, 409, 413, 426]);
const NO_LIMITS: Record<PeerRouteName, number> = {
  dm_replicate_envelope: 0, dm_replicate_envelopes: 0, infonet_peer_push: 0, infonet_sync: 0, dm_ack: 0, dm_pull: 0,
};

async function storedMessages(fx: Fixture): Promise<number> {
  let n = 0;
  for await (const v of fx.mailboxes.store.boxes.values() as AsyncIterable<{ snapshot?: { context?: { mailbox?: { messages?: unknown[] } } } }>) {
    n += v.snapshot?.context?.mailbox?.messages?.length ?? 0;
  }
  return n;
}

function send(agent: http.Agent, port: number, r: FuzzRequest): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: r.method, path: r.path, agent, headers: { ...r.headers, 'content-length': r.body.length } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(r.body);
  });
}

describe('peer routes under 20,000 fuzzed inputs (real HTTP)', () => {
  let fx: Fixture;
  let srv: PeerHttpServer;
  beforeAll(async () => {
    fx = await openFixture({ env: { MESH_PEER_PUSH_SECRET: SECRET, MESH_RELAY_PEERS: PEER } });
    srv = await startPeerHttpServer(createPeerApplication({ ...fx, rateLimits: NO_LIMITS }));
  });
  afterAll(async () => {
    await srv.close();
    await fx.close();
    removeTempDirs();
  });

  test(`no 500, chain and mailboxes change only by what was accepted (seed printed)`, async () => {
    console.log(`peer fuzz: seed ${SEED}, ${INPUTS} inputs`);
    const cpu0 = process.cpuUsage();
    const k = generateIdentity();
    for (let i = 0; i < 5; i++) await fx.chain.appendLocal(k, 'message', { message: `m${i}`, destination: 'broadcast', channel: 'LongFast', priority: 'normal', ephemeral: false });
    for (let i = 0; i < 3; i++) await fx.mailboxes.acceptReplica(sharedEnvelope(`seed-${i}`, 'fuzz-token-0', `ref-seed-${i}`));
    const events = await fx.chain.readRange(0, 5);
    const chainBefore = fx.chain.length;
    const boxesBefore = await storedMessages(fx);

    const inputs = fuzzRequests(SEED, INPUTS, {
      peer: PEER, secret: SECRET, events, tokens: ['fuzz-token-0', 'fuzz-token-1'], recipients: ['fuzz-recipient-a', 'fuzz-recipient-b'],
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const statuses = new Map<number, number>();
    let chainAccepted = 0;
    let stored = 0;
    let removed = 0;
    const bad: string[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < inputs.length) {
        const r = inputs[next++];
        const a = await send(agent, srv.port, r);
        statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
        if (!ALLOWED.has(a.status)) bad.push(`${a.status} ${r.path} ${r.body.subarray(0, 200).toString()}`);
        let j: Record<string, unknown> = {};
        try { j = JSON.parse(a.text) as Record<string, unknown>; } catch { bad.push(`non-JSON answer ${a.status} ${r.path}`); }
        if (a.status !== 200 || j.ok !== true) continue;
        if (r.path.endsWith('/peer-push')) chainAccepted += Number(j.accepted ?? 0);
        else if (r.path.endsWith('/replicate-envelopes')) stored += Number(j.accepted ?? 0);
        else if (r.path.endsWith('/replicate-envelope') && j.duplicate !== true) stored += 1;
        else if (r.path.endsWith('/dm/ack')) removed += Number(j.removed ?? 0);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    agent.destroy();
    const cpu = process.cpuUsage(cpu0);
    console.log(`peer fuzz: statuses ${JSON.stringify(Object.fromEntries(statuses))}; stored ${stored}, removed ${removed}, chain +${chainAccepted}; `
      + `cpu ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s (client + server in this process)`);

    expect(bad.slice(0, 5)).toEqual([]);
    expect(statuses.get(500) ?? 0).toBe(0);
    expect(fx.chain.length).toBe(chainBefore + chainAccepted);
    expect(await storedMessages(fx)).toBe(boxesBefore + stored - removed);
  }, 180_000); // ~10 s of CPU; the wall-clock bound only guards a shared, loaded machine
});
