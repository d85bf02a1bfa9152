// Sync client and scheduler (spec §9.3, §9.6): T63, T64, T67–T70 against real HTTP peers on 127.0.0.1
// and real LevelDB directories; scheduler state survives a restart.
import { createPeerApplication } from '../../peer/app.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startSync } from '../../actors/sync-actor.js';
import { KeptAside } from '../../actors/sync-rebuild.js';
import { generateIdentity, type Identity } from '../../protocol/identity.js';
import { manualClock } from '../../protocol/clock.js';
import { peerHttpError } from '../../protocol/sync-backoff.js';
import { HttpPeerTransport } from '../../transports/loopback-http.js';
import { startPeerHttpServer, type PeerHttpServer } from '../../transports/http-server.js';
import { syncFromPeer, type SyncClientOptions } from '../../actors/sync-client.js';
import { TransportSet } from '../../transports/transport.js';
import { PRIVATE_TRANSPORT_ERROR } from '../../protocol/peer-call.js';
import type { PeerCallRequest as TransportRequest } from '../../ports/peer.js';
import { openFixture, removeTempDirs, type Fixture } from './inbound-helpers.js';

const msg = (text: string) => ({ message: text, destination: 'broadcast', channel: 'LongFast', priority: 'normal', ephemeral: false });

/** A fake peer that answers every request with a fixed status, headers and body. */
async function fakePeer(status: number, headers: Record<string, string>, body: string): Promise<{ url: string; hits: number; close(): Promise<void> }> {
  const state = { hits: 0 };
  const srv: Server = createServer((req, res) => {
    state.hits++;
    req.resume();
    req.on('end', () => {
      res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
      res.end(body);
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    get hits() { return state.hits; },
    close: () => new Promise<void>((r) => { srv.close(() => r()); srv.closeAllConnections(); }),
  };
}

type Closable = { close(): Promise<void> } | { stop(): Promise<void> };
const opened: Closable[] = [];
async function fixture(opts: Parameters<typeof openFixture>[0] = {}): Promise<Fixture> {
  const f = await openFixture(opts);
  opened.push(f);
  return f;
}
async function served(f: Fixture): Promise<PeerHttpServer> {
  const s = await startPeerHttpServer(createPeerApplication(f));
  opened.unshift(s);
  return s;
}
function transportsFor(f: Fixture): TransportSet {
  const t = new TransportSet([new HttpPeerTransport({ clock: f.clock })], f.settings.peers.allowClearnetSync);
  opened.unshift(t);
  return t;
}
const clientOpts = (f: Fixture, extra: Partial<SyncClientOptions> = {}): SyncClientOptions => ({
  transports: transportsFor(f), settings: f.settings.peers, clock: f.clock, ...extra,
});
/** The scheduler's host: the fixture plus an HTTP peer port, closed with the fixture's other parts. */
const host = (f: Fixture) => {
  const peers = new TransportSet([new HttpPeerTransport({ clock: f.clock })], f.settings.peers.allowClearnetSync);
  opened.push({ close: () => peers.close() });
  return { nodeId: '!sb_local', db: f.db, chain: f.chain, settings: f.settings, clock: f.clock, peers };
};

async function appendMessages(f: Fixture, n: number, k: Identity = generateIdentity()): Promise<void> {
  for (let i = 0; i < n; i++) await f.chain.appendLocal(k, 'message', msg(`m${i}`));
}

afterEach(async () => {
  for (const o of opened.splice(0)) await ('close' in o ? o.close() : o.stop());
  removeTempDirs();
});

describe('sync client', () => {
  test('pulls a peer chain over HTTP in pages until caught up', async () => {
    const a = await fixture();
    await appendMessages(a, 130);
    const srv = await served(a);
    const b = await fixture({ clock: a.clock });
    const r = await syncFromPeer(srv.url, b.chain, clientOpts(b, { pageSize: 50 }));
    expect(r).toMatchObject({ ok: true, error: '', forked: false, retryAfterS: 0, accepted: 130 });
    expect(b.chain.head).toBe(a.chain.head);
    // Up to date: a second sync finds nothing new.
    expect(await syncFromPeer(srv.url, b.chain, clientOpts(b))).toMatchObject({ ok: true, accepted: 0 });
  });

  test('authenticated private peers get unredacted pages, so vote and key_rotate events are ingestible', async () => {
    const secret = { MESH_PEER_PUSH_SECRET: 'fleet', MESH_RELAY_PEERS: 'http://127.0.0.1:1' };
    const a = await fixture({ env: secret });
    const k = generateIdentity();
    const old = generateIdentity();
    await a.chain.appendLocal(k, 'message', msg('x'));
    await a.chain.appendLocal(k, 'vote', { target_id: 'post-1', vote: 1, gate: 'ops-gate' });
    await a.chain.appendLocal(k, 'key_rotate', {
      old_node_id: old.nodeId, old_public_key: old.publicKey, old_public_key_algo: 'Ed25519', new_public_key: k.publicKey, new_public_key_algo: 'Ed25519', timestamp: 1, old_signature: 'ab',
    });
    const srv = await served(a);
    const unsigned = await fixture({ clock: a.clock, env: secret });
    const r1 = await syncFromPeer(srv.url, unsigned.chain, clientOpts(unsigned));
    expect(r1.ok).toBe(false);
    expect(r1.error).toContain('sync ingest rejected');
    const signedB = await fixture({ clock: a.clock, env: secret });
    const r2 = await syncFromPeer(srv.url, signedB.chain, clientOpts(signedB, { selfUrl: 'http://127.0.0.1:1' }));
    expect(r2).toMatchObject({ ok: true, accepted: 3 });
    expect(signedB.chain.head).toBe(a.chain.head);
  });

  test('T64 429 backoff, real HTTP: typed rate-limited result; a full cycle honours Retry-After on the ladder and the peer cooldown', async () => {
    const peer = await fakePeer(429, { 'Retry-After': '120' }, '{"detail":"slow down"}');
    opened.unshift(peer);
    const b = await fixture();
    const r = await syncFromPeer(peer.url, b.chain, clientOpts(b));
    expect(r.ok).toBe(false);
    expect(r.error).toContain('HTTP 429');
    expect(r.error).toContain('retry_after=120s');
    expect(r.forked).toBe(false);
    expect(r.retryAfterS).toBe(120);
    expect(r.cause?.code).toBe('rate_limited');

    const start = b.clock();
    const sync = await startSync(host(b), { timer: false, peers: [{ url: peer.url }] });
    opened.unshift(sync);
    const rep = await sync.runCycle();
    expect(rep.outcome).toBe('error');
    expect(rep.state.nextSyncDueAt).toBeGreaterThanOrEqual(start + 120);
    const rec = sync.peers().find((p) => p.url === peer.url)!;
    expect(rec.cooldown_until).toBeGreaterThanOrEqual(start + 120);
    expect(rec.failures).toBe(1);
  });

  test('T67 other HTTP errors honour hints: 503 busy with Retry-After 200', async () => {
    const peer = await fakePeer(503, { 'Retry-After': '200' }, '{"detail":"busy"}');
    opened.unshift(peer);
    const b = await fixture();
    const r = await syncFromPeer(peer.url, b.chain, clientOpts(b));
    expect(r.cause?.code).toBe('peer_http');
    expect(r.cause?.message).toBe('HTTP 503: busy');
    expect(r.cause?.details?.retry_after_s).toBe(200);
    expect(r.retryAfterS).toBe(200);
    const start = b.clock();
    const sync = await startSync(host(b), { timer: false, peers: [{ url: peer.url }] });
    opened.unshift(sync);
    const rep = await sync.runCycle();
    expect(rep.error).toBe('HTTP 503: busy');
    expect(rep.state.nextSyncDueAt).toBeGreaterThanOrEqual(start + 200);
    // A non-JSON answer is the generic error.
    const html = await fakePeer(502, {}, '<html>bad gateway</html>');
    opened.unshift(html);
    expect((await syncFromPeer(html.url, b.chain, clientOpts(b))).error).toBe('peer sync returned non-JSON response (502)');
  });

  test('T63 429 backoff, typed exception (seed test): seed peer, backoff 60, seed cooldown 15, retry_after 180', async () => {
    const b = await fixture({ env: { MESH_SYNC_FAILURE_BACKOFF_S: '60', MESH_BOOTSTRAP_SEED_FAILURE_COOLDOWN_S: '15' } });
    const seed = 'http://seedpeerexampleexampleexampleexampleexampleexample.onion';
    const calls: string[] = [];
    const sync = await startSync(host(b), {
      timer: false,
      peers: [{ url: seed, role: 'seed', source: 'bundle' }],
      syncPeer: async (url) => {
        calls.push(url);
        throw peerHttpError(429, 'rate limited', 180);
      },
    });
    opened.unshift(sync);
    const start = b.clock();
    const rep = await sync.runCycle();
    expect(calls).toEqual([seed]);
    expect(rep.state.lastError).toBe('HTTP 429: rate limited');
    expect(rep.state.nextSyncDueAt).toBeGreaterThanOrEqual(start + 180);
    expect(sync.peers()[0].cooldown_until).toBeGreaterThanOrEqual(start + 180);
  });

  test('T68 stale genesis hint', async () => {
    const t0 = 1_700_000_000;
    const a = await fixture({ now: t0 });
    await appendMessages(a, 3);
    const srv = await served(a);
    const b = await fixture({ now: t0 + 2 * 86400 });
    const r = await syncFromPeer(srv.url, b.chain, clientOpts(b));
    expect(r.ok).toBe(false);
    expect(r.error).toContain('Event timestamp outside freshness window');
    expect(r.error).toContain('expired genesis chain');
    expect(r.error).toContain('MESH_INGEST_EVENT_MAX_AGE_S=0');
    expect(r.retryAfterS).toBe(0);
    expect(r.forked).toBe(false);
  });

  test('T69 small fork: rebuilt from the peer, the replaced events kept aside (§9.3 item 2 tightening); ≥ 20 local events → fork detected, nothing changed', async () => {
    const clock = manualClock(Date.now() / 1000);
    const a = await fixture({ clock });
    await appendMessages(a, 5);
    const srv = await served(a);
    const small = await fixture({ clock });
    await appendMessages(small, 3);
    const mine = await small.chain.readRange(0, 3);
    // Without a kept-aside store the client never resets: the fork is only reported.
    const refused = await syncFromPeer(srv.url, small.chain, clientOpts(small));
    expect([refused.ok, refused.error, refused.forked]).toEqual([false, 'fork detected', true]);
    expect(small.chain.length).toBe(3);
    const kept = await KeptAside.open(small.db, small.chain.ledger.store.committer);
    const r = await syncFromPeer(srv.url, small.chain, clientOpts(small, { kept }));
    expect(r).toMatchObject({ ok: true, forked: false, accepted: 5, rebuilt: { keptAside: 3, reappended: 0 } });
    expect(small.chain.length).toBe(5);
    expect(small.chain.head).toBe(a.chain.head);
    expect(kept.entries().map((k) => k.event.event_id)).toEqual(mine.map((e) => e.event_id));

    const big = await fixture({ clock });
    await appendMessages(big, 20);
    const head = big.chain.head;
    const r2 = await syncFromPeer(srv.url, big.chain, clientOpts(big));
    expect([r2.ok, r2.error, r2.forked, r2.retryAfterS]).toEqual([false, 'fork detected', true, 0]);
    expect(big.chain.length).toBe(20);
    expect(big.chain.head).toBe(head);
    // The scheduler records a fork outcome.
    const sync = await startSync(host(big), { timer: false, peers: [{ url: srv.url }] });
    opened.unshift(sync);
    expect((await sync.runCycle()).outcome).toBe('fork');
  });

  test('T70 no peers: private mode with only an https peer → error, and no connection is attempted; clearnet-allowed with none → solo', async () => {
    const b = await fixture();
    const real = transportsFor(b);
    const sent: TransportRequest[] = [];
    const counting = { send: (req: TransportRequest) => { sent.push(req); return real.send(req); } };
    const direct = await syncFromPeer('https://sync.example', b.chain, { transports: counting, settings: b.settings.peers, clock: b.clock });
    expect(direct.error).toBe(PRIVATE_TRANSPORT_ERROR);
    expect(direct.cause?.code).toBe('private_transport_required');
    expect(sent).toHaveLength(0);

    const sync = await startSync(host(b), {
      timer: false, peers: [{ url: 'https://sync.example' }],
      syncPeer: (url) => syncFromPeer(url, b.chain, { transports: counting, settings: b.settings.peers, clock: b.clock }),
    });
    opened.unshift(sync);
    const rep = await sync.runCycle();
    expect(rep.outcome).toBe('error');
    expect(rep.error).toBe(PRIVATE_TRANSPORT_ERROR);
    expect(rep.tried).toHaveLength(0);
    expect(sent).toHaveLength(0);

    const open = await fixture({ env: { MESH_INFONET_ALLOW_CLEARNET_SYNC: 'true' } });
    const solo = await startSync(host(open), { timer: false, peers: [] });
    opened.unshift(solo);
    const r = await solo.runCycle();
    expect(r.outcome).toBe('solo');
    expect(r.error).toBe('');
  });

  test('scheduler state and peer cooldowns persist across a restart; the timer runs a due cycle', async () => {
    const peer = await fakePeer(503, { 'Retry-After': '30' }, '{"detail":"busy"}');
    opened.unshift(peer);
    const b = await fixture();
    const s1 = await startSync(host(b), { timer: false, peers: [{ url: peer.url }] });
    await s1.runCycle();
    const before = { state: s1.state(), peer: s1.peers()[0] };
    await s1.stop();
    const s2 = await startSync(host(b), { timer: false, peers: [{ url: peer.url }] });
    opened.unshift(s2);
    expect(s2.state()).toEqual(before.state);
    expect(s2.peers()[0]).toEqual(before.peer);
    // Peer still cooling down: the cycle does not contact it.
    const hits = peer.hits;
    const rep = await s2.runCycle();
    expect(rep.tried).toHaveLength(0);
    expect(peer.hits).toBe(hits);
    expect(rep.state.consecutiveFailures).toBe(2);

    // Timer: with the deadline passed (clock moved), a restarted scheduler runs the due cycle by itself.
    await s2.stop();
    b.clock.advance(3600);
    const s3 = await startSync(host(b), { peers: [{ url: peer.url }] });
    opened.unshift(s3);
    const deadline = Date.now() + 5000;
    while (s3.state().lastSyncAt < b.clock() && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    expect(s3.state().lastSyncAt).toBe(b.clock());
    expect(peer.hits).toBe(hits + 1);
  });
});
