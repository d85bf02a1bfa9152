// [extension] Batch replicate route POST /api/mesh/dm/replicate-envelopes (docs/dm-relay.md): the single route's
// preamble (413 before auth, 403, 400, per-peer rate limit) with a 512 KiB / 64-item bound, and every item through
// acceptReplica exactly like a single-route request (caps, duplicates, size, per-item results in order).
import { createPeerApplication } from '../../peer/app.js';
import { signPeerRequest } from '../../protocol/peer-auth.js';

import { startPeerHttpServer, type PeerHttpServer } from '../../transports/http-server.js';
import { httpRequest, openFixture, removeTempDirs, sealedCiphertext, sharedEnvelope, signed, type Fixture } from './inbound-helpers.js';

const ROUTE = '/api/mesh/dm/replicate-envelopes';
const PEER = 'http://example-peer.onion:8000';
const SECRETS = { pushSecret: 'global-secret' };

describe('POST /api/mesh/dm/replicate-envelopes', () => {
  let fx: Fixture;
  let srv: PeerHttpServer;

  beforeAll(async () => {
    fx = await openFixture({ env: { MESH_PEER_PUSH_SECRET: 'global-secret', MESH_RELAY_PEERS: PEER } });
    srv = await startPeerHttpServer(createPeerApplication(fx), { host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await srv.close();
    await fx.close();
    removeTempDirs();
  });

  const sharedCount = (token: string): Promise<number> => fx.mailboxes.count('x', [{ type: 'shared', token }]);

  test('is listed and answers 403 without or with a wrong HMAC; nothing is stored', async () => {
    expect(srv.routes).toContain('POST /api/mesh/dm/replicate-envelopes');
    const body = JSON.stringify({ envelopes: [sharedEnvelope('dm_b403', 'tok-b403')] });
    const none = await httpRequest(srv.url + ROUTE, { body, headers: { 'Content-Type': 'application/json' } });
    expect(none.status).toBe(403);
    expect(none.json).toEqual({ ok: false, detail: 'Invalid or missing peer HMAC' });
    const wrong = signed(PEER, { envelopes: [sharedEnvelope('dm_b403', 'tok-b403')] }, { pushSecret: 'not-the-secret' });
    expect((await httpRequest(srv.url + ROUTE, wrong)).status).toBe(403);
    expect(await sharedCount('tok-b403')).toBe(0);
  });

  test('413 above 512 KiB, checked before authentication (also chunked); 400 for invalid JSON', async () => {
    const big = JSON.stringify({ envelopes: [{ pad: 'x'.repeat(524_288) }] });
    const r = await httpRequest(srv.url + ROUTE, { body: big, headers: { 'Content-Type': 'application/json' } });
    expect(r.status).toBe(413);
    expect(r.json).toEqual({ ok: false, detail: 'Request body too large (max 512KB)' });
    expect((await httpRequest(srv.url + ROUTE, { body: big, chunked: true })).status).toBe(413);
    // Above the single route's 64 KiB but within 512 KiB: size passes, authentication decides.
    expect((await httpRequest(srv.url + ROUTE, { body: Buffer.alloc(100_000, 0x20), chunked: true })).status).toBe(403);
    const raw = '{"envelopes":';
    const r400 = await httpRequest(srv.url + ROUTE, { headers: { ...signPeerRequest(PEER, raw, { pushSecret: 'global-secret', peerSecrets: '' }) }, body: raw });
    expect(r400.status).toBe(400);
    expect(r400.json).toEqual({ ok: false, detail: 'Invalid JSON body' });
  });

  test('per-item results in order: accepted, duplicate, non-object, missing fields, oversize, per-sender cap', async () => {
    const tok = 'tok-batch-items';
    const big = { ...sharedEnvelope('dm_b_big', tok, 'ref-big'), ciphertext: 'A'.repeat(8193) };
    const envelopes = [
      sharedEnvelope('dm_b1', tok, 'ref-1'),
      sharedEnvelope('dm_b1', tok, 'ref-1'), // same msg_id again
      'not an object',
      { msg_id: 'dm_b_missing', recipient_token: tok, delivery_class: 'shared' },
      big,
      // Unsigned replicas count against the authenticated peer (docs/mailbox-sender-cap.md): 2 per mailbox.
      sharedEnvelope('dm_b2', tok, 'ref-2'),
      sharedEnvelope('dm_b3', tok, 'ref-3'),
    ];
    const r = await httpRequest(srv.url + ROUTE, signed(PEER, { envelopes }, SECRETS));
    expect(r.status).toBe(200);
    const res = r.json.results as Array<Record<string, unknown>>;
    expect(res).toHaveLength(envelopes.length);
    expect(res[0]).toEqual({ ok: true, msg_id: 'dm_b1' });
    expect(res[1]).toEqual({ ok: true, msg_id: 'dm_b1', duplicate: true });
    expect(res[2]).toEqual({ ok: false, detail: 'envelope must be an object' });
    expect(res[3]).toEqual({ ok: false, detail: 'envelope missing required fields' });
    expect(String(res[4].detail)).toContain('Message too large');
    expect(res[5]).toEqual({ ok: true, msg_id: 'dm_b2' });
    expect(res[6]).toMatchObject({ ok: false, cap_violation: true, pending: 2, limit: 2 });
    expect(String(res[6].detail)).toContain('Per-sender cap reached');
    expect(r.json).toMatchObject({ ok: true, accepted: 2, duplicates: 1, rejected: 4 });
    expect(await sharedCount(tok)).toBe(2);

    // The same envelopes one by one on the single route give the same answers (a fresh mailbox).
    const tok2 = 'tok-batch-single';
    const singles = [];
    for (const e of envelopes) {
      const env = typeof e === 'object' && e ? { ...e, recipient_token: tok2 } : e;
      const s = await httpRequest(srv.url + '/api/mesh/dm/replicate-envelope', signed(PEER, { envelope: env }, SECRETS));
      singles.push(s.json);
    }
    expect(singles).toEqual(res);
  });

  test('more than 64 items or no list: the request is refused as a whole, nothing stored', async () => {
    const tok = 'tok-batch-65';
    const many = Array.from({ length: 65 }, (_, i) => ({ ...sharedEnvelope(`dm_b65_${i}`, tok, `ref-${i}`), ciphertext: sealedCiphertext() }));
    const r = await httpRequest(srv.url + ROUTE, signed(PEER, { envelopes: many }, SECRETS));
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ ok: false, detail: 'envelopes must be a list of at most 64 items' });
    const notList = await httpRequest(srv.url + ROUTE, signed(PEER, { envelopes: { a: 1 } }, SECRETS));
    expect(notList.json.ok).toBe(false);
    expect(await sharedCount(tok)).toBe(0);
  });

  test('rate limit: 60 batch requests/minute per authenticated peer, a bucket of its own', async () => {
    const eps = createPeerApplication(fx);
    const req = signed(PEER, { envelopes: [] }, SECRETS);
    const call = (path = ROUTE, body = req.body, headers = req.headers) =>
      eps.handle({ method: 'POST', path, body: Buffer.from(body), headers, remoteAddress: '127.0.0.1', via: 'http' });
    for (let i = 0; i < 60; i++) expect((await call()).status).toBe(200);
    const limited = await call();
    expect(limited.status).toBe(429);
    expect(Number(limited.headers?.['Retry-After'])).toBeGreaterThanOrEqual(1);
    // The single route's budget is untouched.
    const single = signed(PEER, { envelope: 'x' }, SECRETS);
    expect((await call('/api/mesh/dm/replicate-envelope', single.body, single.headers)).status).toBe(200);
    fx.clock.advance(60);
    expect((await call()).status).toBe(200);
  });
});
