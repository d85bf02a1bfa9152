// Real nodes replicating over a real private Tor network, onion only (issue 10): every node runs its managed tor
// (`--tor` with the test network's torrc lines), publishes its onion service and advertises http://<onion>.onion.
// Partial mesh A↔B, B↔C: push A→B, pull C←B and ack C→B under signed mailbox access, sync B←A with private events
// served to the onion caller, a peer down then back (same onion address after restart), a forged private classification on the clearnet
// listener refused, and no TCP connection to a clearnet peer in private mode.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { joinTorrcLines, type TorNetworkInfo } from '../../harness/tor-network.js';
import { waitUntil } from '../../harness/wait.js';
import { resolveConfig } from '../../node/config.js';
import { InfonetNode } from '../../node/infonet-node.js';
import { generateIdentity } from '../../protocol/identity.js';
import { signMailboxRequest, toMailboxProof } from '../../protocol/mailbox-access.js';
import { ONION_KEY_FILE } from '../../transports/onion/onion-node.js';
import { loadOrCreateOnionKey } from '../../transports/onion/onion-key.js';
import { NETWORK_WAIT_MS, releaseTorNetwork, sharedTorNetwork, TOR_AVAILABLE } from '../helpers/tor.js';

jest.setTimeout(NETWORK_WAIT_MS + 120_000);
const describeTor = TOR_AVAILABLE ? describe : describe.skip;

const RATE_LIMITS = {
  dm_replicate_envelope: 100_000, dm_replicate_envelopes: 100_000, dm_ack: 100_000, dm_pull: 100_000, infonet_peer_push: 100_000, infonet_sync: 100_000,
};
const token = (): string => randomBytes(16).toString('hex');
const sealed = (): string => randomBytes(48).toString('base64');
const dm = (tok: string) => ({ sender_id: 'alice', ciphertext: sealed(), delivery_class: 'shared', recipient_token: tok });
const claims = (tok: string) => [{ type: 'shared' as const, token: tok }];
const bob = generateIdentity();
let nonce = 0;
/** Bob's signed poll minus its tokens: what C forwards with its pull and its ack (docs/mailbox-access.md). */
const proof = (tok: string) => toMailboxProof(signMailboxRequest(bob, 'poll', { claims: claims(tok), timestamp: Date.now() / 1000, nonce: `onion-${++nonce}` }));
const externalIPv4 = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;

interface N { name: string; dir: string; onion: string; env: Record<string, string>; node?: InfonetNode }

let net: TorNetworkInfo;
let scratch: string;
const nodes = new Map<string, N>();
const get = (name: string): InfonetNode => nodes.get(name)!.node!;
let clearnet: { port: number; connections: number; close(): void };

async function start(name: string): Promise<InfonetNode> {
  const n = nodes.get(name)!;
  n.node = await InfonetNode.start({
    dataDir: n.dir, logger: pino({ level: 'silent' }), config: resolveConfig({ env: n.env }),
    inbound: { rateLimits: RATE_LIMITS },
  });
  return n.node;
}

async function stop(name: string): Promise<void> {
  const n = nodes.get(name)!;
  await n.node?.stop();
  n.node = undefined;
}

/** GET through a socket bound to `localAddress` (a non-loopback caller when that is the external address). */
function get2(url: string, headers: Record<string, string>, localAddress?: string): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { headers, agent: false, ...(localAddress ? { localAddress } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  if (!TOR_AVAILABLE) return;
  scratch = mkdtempSync(join(tmpdir(), 'node-onion-'));
  // A clearnet "peer" that only counts TCP connections: private mode must never open one (§9.1).
  const counter = { port: 0, connections: 0, close: () => srv.close() };
  const srv = createServer((s) => { counter.connections++; s.destroy(); });
  await new Promise<void>((r) => srv.listen(0, '0.0.0.0', r));
  counter.port = (srv.address() as AddressInfo).port;
  clearnet = counter;

  net = await sharedTorNetwork();
  const torrcExtra = join(scratch, 'torrc.extra');
  writeFileSync(torrcExtra, joinTorrcLines(net).join('\n') + '\n');
  for (const name of ['a', 'b', 'c']) {
    const dir = mkdtempSync(join(scratch, `${name}-`));
    // Onion addresses are known before any tor runs (the key is ours), so peers can be configured up front.
    const onion = loadOrCreateOnionKey(join(dir, ONION_KEY_FILE)).url;
    nodes.set(name, { name, dir, onion, env: {} });
  }
  const edges: Record<string, string[]> = { a: ['b'], b: ['a', 'c'], c: ['b'] };
  for (const n of nodes.values()) {
    n.env = {
      MESH_PEER_PUSH_SECRET: 'onion-mesh-secret',
      MESH_RELAY_PEERS: [
        ...edges[n.name].map((p) => nodes.get(p)!.onion),
        ...(n.name === 'c' && externalIPv4 ? [`http://${externalIPv4}:${clearnet.port}`] : []),
      ].join(','),
      MESH_SYNC_TIMEOUT_S: '60',
      MESH_SYNC_INTERVAL_S: '3600',
      // A start-up sync that runs before a peer's descriptor is published fails; the 120 s default cooldown would
      // then outlast the test's wait (seen in CI under load). The cooldown rules have their own tests.
      MESH_RELAY_FAILURE_COOLDOWN_S: '1',
      INFONET_TOR: 'true',
      INFONET_TOR_TORRC_EXTRA: torrcExtra,
      ...(n.name === 'a' ? { INFONET_HTTP_HOST: '0.0.0.0' } : {}),
    };
  }
  // (As for the restart below: an embedded bus that misses its connect deadline on a loaded machine gets one retry.)
  await Promise.all(['a', 'b', 'c'].map((name) => start(name).catch(() => start(name))));
});

afterAll(async () => {
  for (const name of nodes.keys()) await stop(name);
  clearnet?.close();
  await releaseTorNetwork();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describeTor('nodes over a private Tor network', () => {
  test('each node advertises its onion URL and reports its peers as onion (clearnet peer: not allowed)', async () => {
    for (const n of nodes.values()) {
      expect(n.node!.settings.peers.publicPeerUrl).toBe(n.onion);
      const st = await n.node!.status();
      expect(st.transports?.peers.filter((p) => p.url.endsWith('.onion')).every((p) => p.transport === 'onion' && p.allowed)).toBe(true);
    }
    if (externalIPv4) {
      const st = await get('c').status();
      expect(st.transports?.peers.find((p) => p.transport === 'clearnet')).toMatchObject({ allowed: false });
    }
  });

  test('push A→B over onion; no connection to the clearnet peer', async () => {
    const tok = token();
    const r = await get('a').mailboxes.deposit(dm(tok));
    await waitUntil(async () => (await get('b').mailboxes.count('bob', claims(tok))) === 1, 120_000, 'the DM to reach B over onion', 200);
    expect(await get('c').mailboxes.count('bob', claims(tok))).toBe(0); // C is not A's peer; B does not re-replicate

    expect(r.msg_id).toBeTruthy();
    // B's answer travels back through the circuit after B stored the copy: counted when it reaches A.
    await waitUntil(() => nodes.get('a')!.node!.onion!.transport.answered > 0, 60_000, 'B\'s answer to reach A over onion', 50);
    expect(clearnet.connections).toBe(0);
  });

  test('pull C←B and ack C→B over onion: Bob\'s signed poll on C is the proof B honours (B lists, then deletes its copy)', async () => {
    const a = get('a'), b = get('b'), c = get('c');
    const tok = token();
    const r = await a.mailboxes.deposit(dm(tok));
    await waitUntil(async () => (await b.mailboxes.count('bob', claims(tok))) === 1, 120_000, 'the DM to reach B over onion', 200);
    expect(await c.mailboxes.count('bob', claims(tok))).toBe(0); // nobody pushes to C: it can only pull from B
    const answeredBefore = c.onion!.transport.answered;
    // Each poll asks B again once the per-mailbox pull interval (30 s) has passed, so a first pull that failed or
    // outlasted the poll's short wait (a first rendezvous circuit takes seconds, more under load) is retried.
    const pulls = (): string => JSON.stringify(Object.fromEntries((['dm_pull_requests', 'dm_pull_errors', 'dm_pull_throttled', 'dm_pull_accepted'] as const)
      .map((k) => [k, c.replication!.metrics.get(k) ?? 0])));
    let polled = { messages: [] as Array<{ msg_id: string }> };
    await waitUntil(async () => {
      polled = await c.mailboxes.poll(bob.nodeId, claims(tok), undefined, proof(tok));
      return polled.messages.length > 0;
    }, 240_000, 'Bob\'s poll on C to return the DM pulled from B', 1_000).catch((e: Error) => { throw new Error(`${e.message}; ${pulls()}`); });
    expect(polled.messages.map((m) => m.msg_id)).toEqual([r.msg_id]);
    expect(c.replication!.metrics.get('dm_pull_accepted')).toBeGreaterThanOrEqual(1);
    // C's claim carries Bob's proof in its ack to B, which deletes its copy.
    await waitUntil(async () => (await b.mailboxes.count('bob', claims(tok))) === 0, 120_000, 'the ack over onion to delete B\'s copy', 200);
    await waitUntil(() => c.replication!.metrics.get('dm_ack_push_ok') >= 1, 60_000, 'C to count B\'s answer to the ack', 200);
    expect(c.onion!.transport.answered).toBeGreaterThan(answeredBefore);
    expect(clearnet.connections).toBe(0);
  });

  test('sync B←A over onion serves private events (DMs) to the onion caller', async () => {
    const a = get('a'), b = get('b');
    await a.chain.appendLocal(generateIdentity(), 'dm_message', {
      recipient_id: 'bob-agent', delivery_class: 'request', recipient_token: '', ciphertext: randomBytes(64).toString('base64'),
      msg_id: `onion-dm-${token()}`, timestamp: Math.floor(Date.now() / 1000), format: 'mls1', transport_lock: 'private_strong',
    });
    let last: unknown;
    await waitUntil(async () => {
      const rep = await b.inbound!.sync.runCycle();
      last = { outcome: rep.outcome, error: rep.error, heights: [b.chain.length, a.chain.length] };
      return rep.outcome === 'ok' && b.chain.head === a.chain.head;
    }, 180_000, 'B to sync A over onion', 500).catch((e: Error) => { throw new Error(`${e.message}; last cycle: ${JSON.stringify(last)}`); });
    const events = await b.chain.readRange(0, b.chain.length);
    expect(events.map((e) => e.event_type)).toContain('dm_message');
  });

  test('a forged private classification on the clearnet listener is refused; the onion listener serves private events', async () => {
    const a = get('a');
    const st = await a.status();
    const onionListener = (st.transports?.onion as { listener: string }).listener;
    const port = Number(new URL(st.inbound!.http_url).port);
    const forged = { 'X-Forwarded-For': `${nodes.get('b')!.onion.slice(7)}`, Forwarded: 'for="x.onion"', Host: 'y.onion' };
    if (externalIPv4) {
      const page = await get2(`http://${externalIPv4}:${port}/api/mesh/infonet/sync`, forged, externalIPv4);
      expect(page.status).toBe(200);
      expect(JSON.stringify(page.json)).not.toContain('"dm_message"');
    }
    const onionPage = await get2(`${onionListener}/api/mesh/infonet/sync`, forged);
    expect(onionPage.status).toBe(200);
    expect(JSON.stringify(onionPage.json)).toContain('"dm_message"');
  });

  test('a peer that was down gets its mail over onion after it returns, at the same onion address', async () => {
    const before = nodes.get('b')!.onion;
    await stop('b');
    const tok = token();
    await get('a').mailboxes.deposit(dm(tok));
    await waitUntil(() => (get('a').replication!.metrics.get('dm_replication_push_error') ?? 0) >= 1, 240_000, 'A to fail pushing to B', 200);
    // (A restart on a loaded 2-core machine can miss its embedded bus's connect deadline once; that is not onion.)
    const b = await start('b').catch(() => start('b'));
    expect((await b.status()).transports?.onion).toMatchObject({ url: before });
    await waitUntil(async () => (await b.mailboxes.count('bob', claims(tok))) === 1, 240_000, 'the DM to reach B after its restart', 500);
  });
});
