// The sync rate limit (§9.4) of onion callers: every onion caller arrives from 127.0.0.1 through tor, and X-Peer-Url is
// whatever the caller wrote, so it must not choose the bucket. Unauthenticated onion callers share one bucket whatever
// X-Peer-Url they send; a caller with a valid X-Peer-HMAC gets its own bucket (keyed by the authenticated peer URL); a
// forged HMAC counts as unauthenticated. No tor needed: the requests are handed to the peer application as the onion
// listener would (`via: 'onion'`).
import { createPeerApplication } from '../../peer/app.js';
import type { InboundPeerRequest } from '../../ports/peer.js';
import { PROTOCOL_VERSION } from '../../protocol/constants.js';
import { signPeerRequest } from '../../protocol/peer-auth.js';
import { onionKeyFromSeed } from '../../transports/onion/onion-key.js';
import { openFixture, removeTempDirs, type Fixture } from '../replication/inbound-helpers.js';

const LIMIT = 3;
const SECRET = 'rate-key-secret';
const peer = onionKeyFromSeed(Buffer.alloc(32, 21)).url;
const other = onionKeyFromSeed(Buffer.alloc(32, 22)).url;
const env = { MESH_PEER_PUSH_SECRET: SECRET, MESH_RELAY_PEERS: `${peer},${other}` };

const body = JSON.stringify({ protocol_version: PROTOCOL_VERSION, locator: [], limit: 1 });
const onionPost = (headers: Record<string, string>): InboundPeerRequest => ({
  method: 'POST', path: '/api/mesh/infonet/sync', body: Buffer.from(body), headers, remoteAddress: '127.0.0.1', via: 'onion',
});
const onionGet = (headers: Record<string, string>): InboundPeerRequest => ({
  method: 'GET', path: '/api/mesh/infonet/sync', body: Buffer.alloc(0), headers, remoteAddress: '127.0.0.1', via: 'onion',
});
const signed = (url: string): Record<string, string> => ({ ...signPeerRequest(url, body, { pushSecret: SECRET, peerSecrets: '' }) });
const rotating = (i: number): Record<string, string> => ({ 'X-Peer-Url': onionKeyFromSeed(Buffer.alloc(32, 100 + i)).url });

let fx: Fixture;
beforeEach(async () => {
  fx = await openFixture({ env });
});
afterEach(async () => {
  await fx.close();
});
afterAll(() => removeTempDirs());

test('unauthenticated onion callers share one bucket: a rotated X-Peer-Url buys no fresh tokens (POST and GET)', async () => {
  const app = createPeerApplication({ ...fx, rateLimits: { infonet_sync: LIMIT } });
  for (let i = 0; i < LIMIT; i++) expect((await app.handle(onionPost(rotating(i)))).status).toBe(200);
  const refused = await app.handle(onionPost(rotating(LIMIT)));
  expect(refused.status).toBe(429);
  expect(refused.headers?.['Retry-After']).toBeDefined();
  expect((await app.handle(onionGet(rotating(LIMIT + 1)))).status).toBe(429);
  expect((await app.handle(onionGet({}))).status).toBe(429);
  // A forged HMAC under a fresh URL is no identity either.
  expect((await app.handle(onionPost({ 'X-Peer-Url': peer, 'X-Peer-HMAC': 'ab'.repeat(32) }))).status).toBe(429);
  expect(app.limiter.size).toBe(1);
});

test('an HMAC-authenticated onion peer has its own bucket, apart from the anonymous one and from other peers', async () => {
  const app = createPeerApplication({ ...fx, rateLimits: { infonet_sync: LIMIT } });
  for (let i = 0; i < LIMIT; i++) expect((await app.handle(onionPost(rotating(i)))).status).toBe(200);
  expect((await app.handle(onionPost(rotating(9)))).status).toBe(429);
  for (let i = 0; i < LIMIT; i++) expect((await app.handle(onionPost(signed(peer)))).status).toBe(200);
  expect((await app.handle(onionPost(signed(peer)))).status).toBe(429);
  expect((await app.handle(onionPost(signed(other)))).status).toBe(200);
  expect(app.limiter.size).toBe(3);
});

test('plain HTTP callers are still keyed by socket address', async () => {
  const app = createPeerApplication({ ...fx, rateLimits: { infonet_sync: 1 } });
  const http = (addr: string, url: string): InboundPeerRequest => ({ ...onionPost({ 'X-Peer-Url': url }), remoteAddress: addr, via: 'http' });
  expect((await app.handle(http('203.0.113.7', peer))).status).toBe(200);
  expect((await app.handle(http('203.0.113.7', other))).status).toBe(429);
  expect((await app.handle(http('203.0.113.8', peer))).status).toBe(200);
});
