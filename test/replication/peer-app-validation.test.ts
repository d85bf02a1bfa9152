// The peer application's per-route validation (issue 8 item 5): every body field is type-checked before use, a
// malformed field is an in-band refusal with a reason (never 500), the batch route checks every item before anything
// is stored and reports each item's result, and the bus listener runs the same checks (it calls the same app).
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createPeerApplication, type PeerApp } from '../../peer/app.js';
import type { InboundPeerRequest } from '../../ports/peer.js';
import { GENESIS_HASH } from '../../protocol/constants.js';
import { generateIdentity } from '../../protocol/identity.js';
import { signPeerRequest } from '../../protocol/peer-auth.js';
import { busPeerUrl } from '../../transports/bus-peer-protocol.js';
import { startBusPeerServer } from '../../transports/bus-peer-server.js';
import { BusPeerTransport } from '../../transports/bus-transport.js';
import { TransportSet } from '../../transports/transport.js';
import { startServer, stopAll } from '../helpers/nats.js';
import { openFixture, removeTempDirs, sharedEnvelope, type Fixture } from './inbound-helpers.js';

const PEER = 'https://peer-a.example';
const SECRET = 'validation-secret';
const env = { MESH_PEER_PUSH_SECRET: SECRET, MESH_RELAY_PEERS: PEER };

function request(path: string, obj: unknown, opts: { sign?: boolean; raw?: string } = {}): InboundPeerRequest {
  const body = opts.raw ?? JSON.stringify(obj);
  const headers = opts.sign === false ? {} : { ...signPeerRequest(PEER, body, { pushSecret: SECRET, peerSecrets: '' }) };
  return { method: 'POST', path, body: Buffer.from(body), headers, remoteAddress: '127.0.0.1', via: 'http' };
}

describe('peer application: body schemas', () => {
  let fx: Fixture;
  let app: PeerApp;
  const contacts: string[] = [];
  beforeAll(async () => {
    fx = await openFixture({ env });
    app = createPeerApplication({ ...fx, onPeerContact: (u) => contacts.push(u) });
  });
  afterAll(async () => {
    await fx.close();
    removeTempDirs();
  });
  const shared = (token: string) => fx.mailboxes.count('x', [{ type: 'shared', token }]);

  test('issue 8 repro: "msg_id":{"toString":1} is a 200 refusal naming the field, nothing stored (was HTTP 500)', async () => {
    const envelope = { ...sharedEnvelope('x'), msg_id: { toString: 1 } };
    const r = await app.handle(request('/api/mesh/dm/replicate-envelope', { envelope }));
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ ok: false, detail: 'envelope.msg_id must be a string' });
    expect(await shared('shared-token-1')).toBe(0);
    for (const field of ['ciphertext', 'recipient_token', 'delivery_class', 'sender_block_ref', 'timestamp', 'sender_proof']) {
      const bad = await app.handle(request('/api/mesh/dm/replicate-envelope', { envelope: { ...sharedEnvelope('y'), [field]: { valueOf: 1 } } }));
      expect(bad.status).toBe(200);
      expect((bad.json as { detail: string }).detail).toMatch(new RegExp(`^envelope\\.${field}`));
    }
    expect(await shared('shared-token-1')).toBe(0);
  });

  test('a lone surrogate in a text field is refused (UTF-8 storage would turn it into U+FFFD: another msg_id)', async () => {
    const r = await app.handle(request('/api/mesh/dm/replicate-envelope', { envelope: { ...sharedEnvelope('\ud800'), recipient_token: 'surrogate-token' } }));
    expect(r.json).toEqual({ ok: false, detail: 'envelope.msg_id must be well-formed Unicode text' });
    expect(await shared('surrogate-token')).toBe(0);
    const ok = await app.handle(request('/api/mesh/dm/replicate-envelope', { envelope: { ...sharedEnvelope('emoji-\ud83d\ude00'), recipient_token: 'surrogate-token' } }));
    expect(ok.json).toEqual({ ok: true, msg_id: 'emoji-\ud83d\ude00' });
  });

  test('the spec reasons stay: not JSON → 400, envelope not an object → envelope must be an object', async () => {
    expect((await app.handle(request('/api/mesh/dm/replicate-envelope', null, { raw: 'not json' }))).status).toBe(400);
    const r = await app.handle(request('/api/mesh/dm/replicate-envelope', { envelope: 'x' }));
    expect(r.json).toEqual({ ok: false, detail: 'envelope must be an object' });
    expect((await app.handle(request('/api/mesh/dm/replicate-envelope', [1, 2]))).json).toEqual({ ok: false, detail: 'envelope must be an object' });
  });

  test('batch: every item checked before anything is stored; each item gets its own result', async () => {
    const items = [sharedEnvelope('b-1', 'batch-token'), { ...sharedEnvelope('b-2', 'batch-token'), msg_id: { toString: 1 } }, 'x', sharedEnvelope('b-3', 'batch-token')];
    const r = await app.handle(request('/api/mesh/dm/replicate-envelopes', { envelopes: items }));
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      ok: true, accepted: 2, duplicates: 0, rejected: 2,
      results: [
        { ok: true, msg_id: 'b-1' },
        { ok: false, detail: 'envelope.msg_id must be a string' },
        { ok: false, detail: 'envelope must be an object' },
        { ok: true, msg_id: 'b-3' },
      ],
    });
    expect(await shared('batch-token')).toBe(2);
    const tooMany = await app.handle(request('/api/mesh/dm/replicate-envelopes', { envelopes: Array.from({ length: 65 }, () => ({})) }));
    expect(tooMany.json).toEqual({ ok: false, detail: 'envelopes must be a list of at most 64 items' });
    expect((await app.handle(request('/api/mesh/dm/replicate-envelopes', { envelopes: { 0: 1 } }))).json)
      .toEqual({ ok: false, detail: 'envelopes must be a list of at most 64 items' });
  });

  test('peer-push, ack, pull: list fields and their bounds', async () => {
    const before = fx.chain.length;
    expect((await app.handle(request('/api/mesh/infonet/peer-push', { events: 'x' }))).json).toEqual({ ok: false, detail: 'events must be a list' });
    expect((await app.handle(request('/api/mesh/infonet/peer-push', { events: Array(51).fill({}) }))).json).toEqual({ ok: false, detail: 'too many events (max 50)' });
    expect((await app.handle(request('/api/mesh/infonet/peer-push', { events: [] }))).json).toEqual({ ok: true, accepted: 0, duplicates: 0, rejected: [] });
    const junk = await app.handle(request('/api/mesh/infonet/peer-push', { events: [{ toString: 1 }, 5, null, { event_id: { a: 1 }, prev_hash: [] }] }));
    expect(junk.status).toBe(200);
    expect((junk.json as { accepted: number }).accepted).toBe(0);
    expect(fx.chain.length).toBe(before);

    expect((await app.handle(request('/api/mesh/dm/ack', { acks: {} }))).json).toEqual({ ok: false, detail: 'acks must be a list of at most 100 items' });
    const acks = await app.handle(request('/api/mesh/dm/ack', { acks: [{ msg_id: { toString: 1 } }, 'x', { msg_id: 'b-1', delivery_class: { a: 1 } }] }));
    expect(acks.json).toEqual({ ok: true, removed: 0, ignored: 3 });
    expect(await shared('batch-token')).toBe(2);

    expect((await app.handle(request('/api/mesh/dm/pull', { mailboxes: 'x' }))).json).toEqual({ ok: false, detail: 'mailboxes must be a list' });
    expect((await app.handle(request('/api/mesh/dm/pull', { mailboxes: Array(33).fill({}) }))).json).toEqual({ ok: false, detail: 'too many mailboxes (max 32)' });
    const pull = await app.handle(request('/api/mesh/dm/pull', { mailboxes: [5, { delivery_class: [] }, { recipient_id: { toString: 1 } }] }));
    expect(pull.json).toEqual({ ok: true, envelopes: [], count: 0 });
  });

  test('sync POST: locator must be a list; 426 and 409 as in §9.4; odd limits are clamped', async () => {
    const sync = (o: unknown, raw?: string) => app.handle({ ...request('/api/mesh/infonet/sync', o, { sign: false, ...(raw ? { raw } : {}) }) });
    expect((await sync({ locator: { toString: 1 } })).json).toEqual({ ok: false, detail: 'locator must be a list' });
    expect((await sync(null, '5')).json).toEqual({ ok: false, detail: 'locator must be a list' });
    expect((await sync({ locator: [], protocol_version: { x: 1 } })).status).toBe(426);
    expect((await sync({ locator: [], expected_head: 'f'.repeat(64) })).status).toBe(409);
    const odd = await sync({ locator: [{ toString: 1 }, 7, GENESIS_HASH], limit: { valueOf: 1 }, expected_head: { a: 1 } });
    expect(odd.status).toBe(200);
    expect((odd.json as { ok: boolean }).ok).toBe(true);
  });

  test('every authenticated request reports its peer as a contact; unauthenticated ones do not', async () => {
    contacts.length = 0;
    await app.handle(request('/api/mesh/dm/pull', { mailboxes: [] }, { sign: false }));
    expect(contacts).toEqual([]);
    await app.handle(request('/api/mesh/dm/pull', { mailboxes: [] }));
    expect(contacts).toEqual([PEER]);
  });
});

describe('the bus listener runs the same checks (real nats-server)', () => {
  let nc: NatsConnection | undefined;
  afterAll(async () => {
    await nc?.close();
    await stopAll();
    removeTempDirs();
  });

  test('a malformed envelope over NATS is the same in-band refusal; nothing stored', async () => {
    const server = await startServer();
    nc = await connect({ servers: server.clientUrl });
    const idA = generateIdentity().nodeId;
    const idB = generateIdentity().nodeId;
    const a = await openFixture({ env: { MESH_PEER_PUSH_SECRET: SECRET, MESH_RELAY_PEERS: busPeerUrl(idB) } });
    const bus = startBusPeerServer(createPeerApplication(a), { nc, nodeId: idA });
    const port = new TransportSet([new BusPeerTransport(nc, a.clock)], false);
    try {
      const body = JSON.stringify({ envelope: { ...sharedEnvelope('bus-bad', 'bus-token'), msg_id: { toString: 1 } } });
      const headers = { ...signPeerRequest(busPeerUrl(idB), body, { pushSecret: SECRET, peerSecrets: '' }) };
      const r = await port.send({ peer: busPeerUrl(idA), route: 'dm/replicate-envelope', body: Buffer.from(body), headers, timeoutMs: 5000 });
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ ok: false, detail: 'envelope.msg_id must be a string' });
      expect(await a.mailboxes.count('x', [{ type: 'shared', token: 'bus-token' }])).toBe(0);
    } finally {
      await bus.stop();
      await port.close();
      await a.close();
    }
  });
});
