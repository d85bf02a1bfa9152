// DM ack (§10.1), DM pull (§10.2) and Infonet peer push (§8.5) endpoints over real HTTP, and the same
// endpoints over a real nats-server (peers addressed nats://<node id>) with the HMAC enforced.
import { createPeerApplication } from '../../peer/app.js';
import { createHash } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { GENESIS_HASH } from '../../protocol/constants.js';
import { generateIdentity, type Identity } from '../../protocol/identity.js';
import { signMailboxRequest, toMailboxProof } from '../../protocol/mailbox-access.js';
import { signPeerRequest } from '../../protocol/peer-auth.js';
import { busPeerUrl } from '../../transports/bus-peer-protocol.js';
import { startBusPeerServer } from '../../transports/bus-peer-server.js';
import { BusPeerTransport } from '../../transports/bus-transport.js';
import { startPeerHttpServer, type PeerHttpServer } from '../../transports/http-server.js';
import { syncFromPeer } from '../../actors/sync-client.js';
import { TransportSet } from '../../transports/transport.js';
import { startServer, stopAll } from '../helpers/nats.js';
import { httpRequest, openFixture, removeTempDirs, sealedCiphertext, sharedEnvelope, signed, type Fixture } from './inbound-helpers.js';

const PEER = 'http://127.0.0.1:7001';
const env = { MESH_PEER_PUSH_SECRET: 'fleet-secret', MESH_RELAY_PEERS: PEER };
const sec = { pushSecret: 'fleet-secret' };
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
// Issue 8: acks and pulls carry the recipient's signed poll (docs/mailbox-access.md).
const pollProof = (who: Identity, claims: Array<{ type: string; token?: string }>, now: number) =>
  toMailboxProof(signMailboxRequest(who, 'poll', { claims, timestamp: now, nonce: 'n', sequence: 1 }));
const msg = (text: string) => ({ message: text, destination: 'broadcast', channel: 'LongFast', priority: 'normal', ephemeral: false });

describe('DM ack and pull, peer push (HTTP)', () => {
  let fx: Fixture;
  let srv: PeerHttpServer;
  beforeAll(async () => {
    fx = await openFixture({ env });
    srv = await startPeerHttpServer(createPeerApplication(fx));
  });
  afterAll(async () => {
    await srv.close();
    await fx.close();
    removeTempDirs();
  });
  const call = (path: string, obj: unknown) => httpRequest(srv.url + path, signed(PEER, obj, sec));
  const sharedCount = (token: string) => fx.mailboxes.count('x', [{ type: 'shared', token }]);

  test('ack deletes exactly the named message, is idempotent, and requires the peer HMAC', async () => {
    const token = 'ack-token';
    for (const id of ['ack-1', 'ack-2']) expect((await call('/api/mesh/dm/replicate-envelope', { envelope: sharedEnvelope(id, token, `ref-${id}`) })).json.ok).toBe(true);
    expect(await sharedCount(token)).toBe(2);

    const unauth = await httpRequest(srv.url + '/api/mesh/dm/ack', { body: JSON.stringify({ acks: [{ msg_id: 'ack-1', delivery_class: 'shared', recipient_token_hash: sha(token) }] }) });
    expect(unauth.status).toBe(403);
    expect(await sharedCount(token)).toBe(2);

    const noProof = { acks: [{ msg_id: 'ack-1', delivery_class: 'shared', recipient_token_hash: sha(token) }] };
    expect((await call('/api/mesh/dm/ack', noProof)).json).toEqual({ ok: true, removed: 0, ignored: 1 });
    const proof = pollProof(generateIdentity(), [{ type: 'shared', token }], fx.clock());
    const ack = { acks: [{ ...noProof.acks[0], proof }] };
    const r1 = await call('/api/mesh/dm/ack', ack);
    expect(r1.status).toBe(200);
    expect(r1.json).toEqual({ ok: true, removed: 1, ignored: 0 });
    expect(await fx.mailboxes.pendingIds('x', [{ type: 'shared', token }])).toEqual(['ack-2']);
    const r2 = await call('/api/mesh/dm/ack', ack);
    expect(r2.json).toEqual({ ok: true, removed: 0, ignored: 1 });
    expect(await sharedCount(token)).toBe(1);
    // Unknown ids and malformed items are ignored; too many acks is refused.
    const r3 = await call('/api/mesh/dm/ack', { acks: [{ msg_id: 'nope', delivery_class: 'shared', recipient_token_hash: sha(token), proof }, 'junk'] });
    expect(r3.json).toEqual({ ok: true, removed: 0, ignored: 2 });
    const many = Array.from({ length: 101 }, (_, i) => ({ msg_id: `m${i}`, delivery_class: 'shared', recipient_token_hash: sha(token) }));
    expect((await call('/api/mesh/dm/ack', { acks: many })).json).toMatchObject({ ok: false });
    expect(await sharedCount(token)).toBe(1);
  });

  test('ack of a request-class message names the recipient id (mailbox recomputed locally)', async () => {
    const bob = generateIdentity();
    const dep = await fx.mailboxes.deposit({
      sender_id: 'alice', recipient_id: bob.nodeId, ciphertext: sealedCiphertext(), delivery_class: 'request', sender_token_hash: sha('alice-token'),
    });
    const proof = pollProof(bob, [{ type: 'requests', token: 'bob-token' }], fx.clock());
    const box = { delivery_class: 'request', recipient_id: bob.nodeId };
    const before = await fx.mailboxes.pendingEnvelopes(box, 10, proof);
    expect(before.map((e) => e.msg_id)).toEqual([dep.msg_id]);
    // Another agent's poll is no proof for Bob's mailbox.
    const mallory = pollProof(generateIdentity(), [{ type: 'requests', token: 'bob-token' }], fx.clock());
    expect((await call('/api/mesh/dm/ack', { acks: [{ msg_id: dep.msg_id, ...box, proof: mallory }] })).json).toEqual({ ok: true, removed: 0, ignored: 1 });
    const r = await call('/api/mesh/dm/ack', { acks: [{ msg_id: dep.msg_id, ...box, proof }] });
    expect(r.json).toEqual({ ok: true, removed: 1, ignored: 0 });
    expect(await fx.mailboxes.pendingEnvelopes(box, 10, proof)).toEqual([]);
  });

  test('pull returns pending envelopes in §7.9 form without deleting them; they round-trip through accept_replica elsewhere', async () => {
    const token = 'pull-token';
    for (const id of ['pull-1', 'pull-2', 'pull-3']) await call('/api/mesh/dm/replicate-envelope', { envelope: sharedEnvelope(id, token, `ref-${id}`) });
    const boxes = [{ delivery_class: 'shared', recipient_token_hash: sha(token) }];
    expect((await call('/api/mesh/dm/pull', { mailboxes: boxes })).json).toEqual({ ok: true, envelopes: [], count: 0 }); // no proof
    const r = await call('/api/mesh/dm/pull', { mailboxes: boxes, proof: pollProof(generateIdentity(), [{ type: 'shared', token }], fx.clock()) });
    expect(r.status).toBe(200);
    expect(r.json.ok).toBe(true);
    // The per-peer cap (2 unsigned per mailbox per peer) let two of the three in.
    const ids = r.json.envelopes.map((e: any) => e.msg_id);
    expect(ids).toEqual(['pull-1', 'pull-2']);
    const e0 = r.json.envelopes[0];
    for (const f of ['msg_id', 'mailbox_key', 'recipient_id', 'recipient_token', 'sender_id', 'sender_block_ref', 'sender_seal', 'ciphertext', 'timestamp', 'delivery_class', 'relay_salt', 'payload_format', 'session_welcome']) {
      expect(e0).toHaveProperty(f);
    }
    expect(e0.mailbox_key).toBe(sha(token));
    expect(await sharedCount(token)).toBe(2);

    const other = await openFixture();
    try {
      for (const e of r.json.envelopes) expect((await other.mailboxes.acceptReplica(e, PEER)).ok).toBe(true);
      expect(await other.mailboxes.count('x', [{ type: 'shared', token }])).toBe(2);
    } finally {
      await other.close();
    }
    expect((await call('/api/mesh/dm/pull', { mailboxes: 'x' })).json).toEqual({ ok: false, detail: 'mailboxes must be a list' });
    expect((await httpRequest(srv.url + '/api/mesh/dm/pull', { body: '{"mailboxes":[]}' })).status).toBe(403);
  });

  test('peer push: HMAC, events list ≤ 50, ingest result; 512 KiB limit before auth', async () => {
    const k = generateIdentity();
    const src = await openFixture({ clock: fx.clock });
    try {
      for (let i = 0; i < 3; i++) await src.chain.appendLocal(k, 'message', msg(`p${i}`));
      const events = await src.chain.readRange(0, 3);
      expect((await httpRequest(srv.url + '/api/mesh/infonet/peer-push', { body: JSON.stringify({ events }) })).status).toBe(403);
      const r = await call('/api/mesh/infonet/peer-push', { events });
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ ok: true, accepted: 3, duplicates: 0, rejected: [] });
      expect(fx.chain.head).toBe(src.chain.head);
      expect((await call('/api/mesh/infonet/peer-push', { events })).json).toEqual({ ok: true, accepted: 0, duplicates: 3, rejected: [] });
      expect((await call('/api/mesh/infonet/peer-push', { events: [] })).json).toEqual({ ok: true, accepted: 0, duplicates: 0, rejected: [] });
      expect((await call('/api/mesh/infonet/peer-push', { events: 'x' })).json).toEqual({ ok: false, detail: 'events must be a list' });
      expect((await call('/api/mesh/infonet/peer-push', { events: Array(51).fill({}) })).json.ok).toBe(false);
      const big = await httpRequest(srv.url + '/api/mesh/infonet/peer-push', { body: Buffer.alloc(524_289, 0x20), chunked: true });
      expect(big.status).toBe(413);
      expect(big.json.detail).toBe('Request body too large (max 512KB)');
    } finally {
      await src.close();
    }
  });
});

describe('peer endpoints over the bus (real nats-server)', () => {
  let nc: NatsConnection;
  afterAll(async () => {
    await nc?.close();
    await stopAll();
    removeTempDirs();
  });

  test('replicate-envelope and sync over NATS: HMAC enforced, bus callers are private', async () => {
    const server = await startServer();
    nc = await connect({ servers: server.clientUrl });
    const idA = generateIdentity().nodeId;
    const idB = generateIdentity().nodeId;
    const a = await openFixture({ env: { MESH_PEER_PUSH_SECRET: 'bus-secret', MESH_RELAY_PEERS: busPeerUrl(idB) } });
    const b = await openFixture({ clock: a.clock, env: { MESH_PEER_PUSH_SECRET: 'bus-secret', MESH_RELAY_PEERS: busPeerUrl(idA) } });
    const busA = startBusPeerServer(createPeerApplication(a), { nc, nodeId: idA });
    const transport = new TransportSet([new BusPeerTransport(nc, a.clock)], false);
    try {
      const k = generateIdentity();
      await a.chain.appendLocal(k, 'message', msg('over the bus'));
      await a.chain.appendLocal(k, 'gate_message', {
        gate: 'ops-gate', ciphertext: Buffer.from('encrypted-gate-ciphertext').toString('base64'), nonce: Buffer.from('nonce-value-1234').toString('base64'),
        sender_ref: 'sender-ref-1', format: 'mls1', transport_lock: 'private_strong',
      });
      const env1 = JSON.stringify({ envelope: sharedEnvelope('bus-1', 'bus-token') });
      const send = (headers: Record<string, string>, route: 'dm/replicate-envelope' | 'infonet/sync', body: string) =>
        transport.send({ peer: busPeerUrl(idA), route, body: Buffer.from(body), headers, timeoutMs: 5000 });

      const noMac = await send({}, 'dm/replicate-envelope', env1);
      expect(noMac.status).toBe(403);
      expect(noMac.json).toEqual({ ok: false, detail: 'Invalid or missing peer HMAC' });
      const wrongPeer = await send(signPeerRequest(busPeerUrl(generateIdentity().nodeId), env1, { pushSecret: 'bus-secret', peerSecrets: '' }) as never, 'dm/replicate-envelope', env1);
      expect(wrongPeer.status).toBe(403);
      const ok = await send(signPeerRequest(busPeerUrl(idB), env1, { pushSecret: 'bus-secret', peerSecrets: '' }) as never, 'dm/replicate-envelope', env1);
      expect(ok.status).toBe(200);
      expect(ok.json).toEqual({ ok: true, msg_id: 'bus-1' });
      expect(await a.mailboxes.count('x', [{ type: 'shared', token: 'bus-token' }])).toBe(1);

      // Sync over the bus: private events included (the bus is a private transport).
      const page = await send({}, 'infonet/sync', JSON.stringify({ locator: [GENESIS_HASH] }));
      expect(page.status).toBe(200);
      expect((page.json as any).events.map((e: any) => e.event_type)).toEqual(['message', 'gate_message']);
      const r = await syncFromPeer(busPeerUrl(idA), b.chain, { transports: transport, settings: b.settings.peers, clock: b.clock, busSelfUrl: busPeerUrl(idB) });
      expect(r).toMatchObject({ ok: true, accepted: 2 });
      expect(b.chain.head).toBe(a.chain.head);
    } finally {
      await busA.stop();
      await transport.close();
      await a.close();
      await b.close();
    }
  });
});
