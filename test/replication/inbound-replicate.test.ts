// Inbound DM replication endpoint (spec §8.2, §8.4): T48–T53 over a real HTTP listener on 127.0.0.1.
import { createPeerApplication } from '../../peer/app.js';
import { createHash } from 'node:crypto';
import { derivePeerKey, peerMac } from '../../protocol/peer-auth.js';

import { startPeerHttpServer, type PeerHttpServer } from '../../transports/http-server.js';
import { httpRequest, openFixture, removeTempDirs, sharedEnvelope, signed, type Fixture } from './inbound-helpers.js';

const ROUTE = '/api/mesh/dm/replicate-envelope';

describe('POST /api/mesh/dm/replicate-envelope', () => {
  let fx: Fixture;
  let srv: PeerHttpServer;
  const env = {
    MESH_PEER_PUSH_SECRET: 'global-secret',
    MESH_RELAY_PEERS: 'http://example-peer.onion:8000,https://good.example,https://a.example',
    MESH_PEER_SECRETS: 'https://a.example=sa',
  };

  beforeAll(async () => {
    fx = await openFixture({ env });
    srv = await startPeerHttpServer(createPeerApplication(fx), { host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await srv.close();
    await fx.close();
    removeTempDirs();
  });

  const sharedCount = async (token: string): Promise<number> => fx.mailboxes.count('x', [{ type: 'shared', token }]);

  test('T49 replicate endpoint rejects missing HMAC (seed test)', async () => {
    const body = JSON.stringify({ envelope: sharedEnvelope('dm_t49', 'tok-t49') });
    // Through the handlers with a remote client address, and over real HTTP.
    const direct = await createPeerApplication(fx).handle({
      method: 'POST', path: ROUTE, body: Buffer.from(body), headers: { 'content-type': 'application/json' }, remoteAddress: '1.2.3.4', via: 'http',
    });
    expect(direct.status).toBe(403);
    const r = await httpRequest(srv.url + ROUTE, { body, headers: { 'Content-Type': 'application/json' } });
    expect(r.status).toBe(403);
    expect(r.json).toEqual({ ok: false, detail: 'Invalid or missing peer HMAC' });
    expect(r.text).toContain('peer HMAC');
    expect(await sharedCount('tok-t49')).toBe(0);
  });

  test('T50 replicate endpoint rejects wrong HMAC (seed test)', async () => {
    const body = JSON.stringify({ envelope: sharedEnvelope('dm_t50', 'tok-t50') });
    const url = 'http://example-peer.onion:8000';
    const wrong = peerMac(derivePeerKey('wrong-key', url), body);
    const r = await httpRequest(srv.url + ROUTE, { body, headers: { 'Content-Type': 'application/json', 'X-Peer-Url': url, 'X-Peer-HMAC': wrong } });
    expect(r.status).toBe(403);
    expect(await sharedCount('tok-t50')).toBe(0);
    // The same request with the right key is accepted: the MAC is really checked, not just present.
    const good = signed(url, { envelope: sharedEnvelope('dm_t50', 'tok-t50') }, { pushSecret: 'global-secret' });
    const ok = await httpRequest(srv.url + ROUTE, good);
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual({ ok: true, msg_id: 'dm_t50' });
  });

  test('T51 replicate endpoint rejects non-allowlisted peer', async () => {
    const req = signed('https://bad.example', { envelope: sharedEnvelope('dm_t51', 'tok-t51') }, { pushSecret: 'global-secret' });
    const r = await httpRequest(srv.url + ROUTE, req);
    expect(r.status).toBe(403);
    expect(r.json.detail).toBe('Invalid or missing peer HMAC');
    expect(await sharedCount('tok-t51')).toBe(0);
  });

  test('T52 replicate endpoint rejects oversize (seed test), checked before auth; tightening: chunked without Content-Length', async () => {
    const pad = 'x'.repeat(100_002 - JSON.stringify({ envelope: { pad: '' } }).length);
    const big = JSON.stringify({ envelope: { pad } });
    expect(Buffer.byteLength(big)).toBe(100_002);
    const r = await httpRequest(srv.url + ROUTE, { body: big, headers: { 'Content-Type': 'application/json' } });
    expect(r.status).toBe(413);
    expect(r.json).toEqual({ ok: false, detail: 'Request body too large (max 64KB)' });
    const chunked = await httpRequest(srv.url + ROUTE, { body: big, chunked: true, headers: { 'Content-Type': 'application/json' } });
    expect(chunked.status).toBe(413);
    expect(chunked.json.detail).toContain('Request body too large');
    // Exactly at the limit the size check passes and authentication decides.
    const atLimit = Buffer.alloc(65_536, 0x20);
    const edge = await httpRequest(srv.url + ROUTE, { body: atLimit, chunked: true });
    expect(edge.status).toBe(403);
  });

  test('T53 replicate endpoint happy path, bad JSON, non-object envelope; route registered', async () => {
    expect(srv.routes).toContain('POST /api/mesh/dm/replicate-envelope');
    const url = 'https://good.example';
    const env1 = sharedEnvelope('dm_t53', 'tok-t53');
    const ok = await httpRequest(srv.url + ROUTE, signed(url, { envelope: env1 }, { pushSecret: 'global-secret' }));
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual({ ok: true, msg_id: 'dm_t53' });
    const again = await httpRequest(srv.url + ROUTE, signed(url, { envelope: env1 }, { pushSecret: 'global-secret' }));
    expect(again.json).toEqual({ ok: true, msg_id: 'dm_t53', duplicate: true });
    expect(await sharedCount('tok-t53')).toBe(1);
    const key = createHash('sha256').update('tok-t53').digest('hex');
    expect((await fx.mailboxes.envelopeForReplication(key, 'dm_t53'))?.ciphertext).toBe(env1.ciphertext);

    const notJson = 'not json';
    const h = { 'X-Peer-Url': url, 'X-Peer-HMAC': peerMac(derivePeerKey('global-secret', url), notJson) };
    const bad = await httpRequest(srv.url + ROUTE, { body: notJson, headers: h });
    expect(bad.status).toBe(400);
    expect(bad.json).toEqual({ ok: false, detail: 'Invalid JSON body' });

    const str = await httpRequest(srv.url + ROUTE, signed(url, { envelope: 'x' }, { pushSecret: 'global-secret' }));
    expect(str.status).toBe(200);
    expect(str.json).toEqual({ ok: false, detail: 'envelope must be an object' });

    const missing = await httpRequest(srv.url + ROUTE, signed(url, { envelope: { msg_id: 'm' } }, { pushSecret: 'global-secret' }));
    expect(missing.status).toBe(200);
    expect(missing.json.ok).toBe(false);
    expect(missing.json.detail).toContain('envelope missing required fields');

    const unknownRoute = await httpRequest(srv.url + '/api/mesh/dm/nope', { body: '{}' });
    expect(unknownRoute.status).toBe(404);
  });

  test('T48 per-peer secret precedence at the receiver: g-derived MAC for a.example → 403, sa-derived → accepted', async () => {
    const url = 'https://a.example';
    const body = JSON.stringify({ envelope: sharedEnvelope('dm_t48', 'tok-t48') });
    const withGlobal = await httpRequest(srv.url + ROUTE, {
      body, headers: { 'X-Peer-Url': url, 'X-Peer-HMAC': peerMac(derivePeerKey('global-secret', url), body) },
    });
    expect(withGlobal.status).toBe(403);
    const withPeer = await httpRequest(srv.url + ROUTE, {
      body, headers: { 'X-Peer-Url': `${url}/`, 'X-Peer-HMAC': peerMac(derivePeerKey('sa', url), body) },
    });
    expect(withPeer.status).toBe(200);
    expect(withPeer.json).toEqual({ ok: true, msg_id: 'dm_t48' });
  });

  test('cap violations come back as 200 ok:false with the accept_replica details; unsigned replicas count against the peer', async () => {
    const url = 'https://good.example';
    const send = (id: string, ref: string) => httpRequest(srv.url + ROUTE, signed(url, { envelope: sharedEnvelope(id, 'tok-cap', ref) }, { pushSecret: 'global-secret' }));
    expect((await send('cap1', 'r1')).json.ok).toBe(true);
    expect((await send('cap2', 'r2')).json.ok).toBe(true);
    // A fresh sender_block_ref does not buy a new budget: the authenticated peer is the cap key.
    const third = await send('cap3', 'r3');
    expect(third.status).toBe(200);
    expect(third.json).toMatchObject({ ok: false, cap_violation: true, pending: 2, limit: 2 });
  });

  test('rate limit: 60 requests/minute per authenticated peer, then 429 with Retry-After', async () => {
    const eps = createPeerApplication(fx);
    const url = 'http://example-peer.onion:8000';
    const req = signed(url, { envelope: 'x' }, { pushSecret: 'global-secret' });
    const call = () => eps.handle({ method: 'POST', path: ROUTE, body: Buffer.from(req.body), headers: req.headers, remoteAddress: '127.0.0.1', via: 'http' });
    for (let i = 0; i < 60; i++) expect((await call()).status).toBe(200);
    const limited = await call();
    expect(limited.status).toBe(429);
    expect(Number(limited.headers?.['Retry-After'])).toBeGreaterThanOrEqual(1);
    fx.clock.advance(60);
    expect((await call()).status).toBe(200);
  });
});
