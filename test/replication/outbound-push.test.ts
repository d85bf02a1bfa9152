// Outbound envelope push (§8.3, issue 5): T54 outcomes and metrics, T55 fire-and-forget, T56 private mode,
// 429/Retry-After, exponential backoff with one probe at a time, expiry, and the durable outbox across a
// restart of the sender. Real LevelDB, real HTTP peers on 127.0.0.1; timing is driven by a manual clock and
// the explicit retryNow() trigger, never by sleeps.
import { networkInterfaces } from 'node:os';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { verifyPeerRequest } from '../../protocol/peer-auth.js';
import { generateIdentity } from '../../protocol/identity.js';
import { signMailboxRequest, toMailboxProof } from '../../protocol/mailbox-access.js';
import { waitFor } from '../helpers/nats.js';
import { envelopeBody } from '../../actors/replication-actor.js';
import { sharedMailboxKey } from '../../protocol/mailbox-keys.js';
import { type FakePeer, type Sender, SECRET, deadUrl, fakePeer, openSender, removeTempDirs, sharedDm, tempDir } from './outbound-helpers.js';

const SELF = 'http://127.0.0.1:7001';
const ok = () => ({ status: 200, json: { ok: true } });

let peers: FakePeer[] = [];
let senders: Sender[] = [];
const track = <T extends Sender>(s: T): T => (senders.push(s), s);

afterEach(async () => {
  for (const s of senders.splice(0)) await s.close();
  for (const p of peers.splice(0)) await p.close();
});
afterAll(() => removeTempDirs());

test('T54 outbound push and metrics: ok, ok:false and unreachable peers; X-Peer-Url is the sender, MAC over the exact body', async () => {
  const good = await fakePeer(ok);
  const refusing = await fakePeer(() => ({ status: 200, json: { ok: false, detail: 'cap' } }));
  peers.push(good, refusing);
  const dead = await deadUrl();
  // A long backoff base: the unreachable peer is attempted exactly once during the test.
  const s = track(await openSender({ selfUrl: SELF, peers: [good.url, refusing.url, dead], policy: { baseS: 600 } }));

  const r = await s.mailboxes.deposit(sharedDm());
  const m = s.replicator.metrics;
  await waitFor(() => m.get('dm_replication_push_ok') === 1 && m.get('dm_replication_push_rejected') === 1 && m.get('dm_replication_push_error') === 1);
  expect(m.get('dm_replication_push_ok')).toBe(1);
  expect(m.get('dm_replication_push_rejected')).toBe(1);
  expect(m.get('dm_replication_push_error')).toBe(1);

  for (const p of [good, refusing]) {
    expect(p.requests).toHaveLength(1);
    const rec = p.requests[0];
    expect(rec.url).toBe('/api/mesh/dm/replicate-envelope');
    expect(rec.headers['x-peer-url']).toBe(SELF);
    expect(rec.headers['content-type']).toBe('application/json');
    const auth = verifyPeerRequest({
      headerUrl: rec.headers['x-peer-url'], headerMac: rec.headers['x-peer-hmac'], body: rec.body, allowlist: [SELF],
      settings: { pushSecret: SECRET, peerSecrets: '' },
    });
    expect(auth.ok).toBe(true);
    const body = JSON.parse(rec.body.toString('utf8'));
    expect(body.envelope.msg_id).toBe(r.msg_id);
    expect(body.envelope.recipient_token).toBe(''); // the shared token never leaves the node
    expect(rec.body.toString('utf8')).toBe(JSON.stringify(body)); // compact serialisation (§8.3.1)
  }
  // Delivered and refused items leave the outbox; the unreachable peer's stays for a retry.
  await waitFor(async () => (await s.outbox.count()) === 1);
  expect(s.replicator.link(dead)!.queued).toBe(1);
  expect(s.replicator.link(refusing.url)!.lastError).toBe('cap');
});

test('T55 fire-and-forget: deposit returns promptly with every peer unreachable; the error counter rises later', async () => {
  const s = track(await openSender({ selfUrl: SELF, peers: [await deadUrl(), await deadUrl(), await deadUrl()] }));
  const t0 = performance.now();
  const r = await s.mailboxes.deposit(sharedDm());
  expect(performance.now() - t0).toBeLessThan(1000);
  expect(r.ok).toBe(true);
  await waitFor(() => s.replicator.metrics.get('dm_replication_push_error') >= 3);
  expect(s.replicator.metrics.get('dm_replication_push_ok')).toBe(0);
});

function nonLoopbackIPv4(): string | undefined {
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}

test('T56 private mode never contacts clearnet: no TCP connection to an https push peer (push or pull)', async () => {
  const ip = nonLoopbackIPv4() ?? '192.0.2.1';
  // A listener on every interface that counts accepted connections: the clearnet peer's address.
  let connections = 0;
  const trap: Server = createServer((sock) => {
    connections++;
    sock.destroy();
  });
  await new Promise<void>((r) => trap.listen(0, '0.0.0.0', r));
  const clearnet = `https://${ip}:${(trap.address() as AddressInfo).port}`;
  const loop = await fakePeer(ok);
  peers.push(loop);
  try {
    const s = track(await openSender({ selfUrl: SELF, peers: [clearnet, loop.url], pullWaitMs: 50 }));
    await s.mailboxes.deposit(sharedDm());
    const m = s.replicator.metrics;
    await waitFor(() => m.get('dm_replication_push_ok') === 1 && m.get('dm_replication_push_error') === 1);
    // The refusal is final for that item (retrying cannot change policy), and it never opened a socket.
    expect(s.replicator.link(clearnet)!.queued).toBe(0);
    expect(s.replicator.link(clearnet)!.lastError).toMatch('private Infonet requires onion/RNS transport');
    // Pulls go out only with the recipient's signed poll (issue 8).
    const bob = generateIdentity();
    const claims = [{ type: 'shared', token: 'tok-t56' }];
    await s.mailboxes.poll(bob.nodeId, claims, undefined, toMailboxProof(signMailboxRequest(bob, 'poll', { claims, timestamp: Date.now() / 1000, nonce: 'n' })));
    await waitFor(() => m.get('dm_pull_requests') === 2 && m.get('dm_pull_errors') >= 1);
    expect(connections).toBe(0);
  } finally {
    await new Promise<void>((r) => trap.close(() => r()));
  }
});

test('429 with Retry-After parks the whole link until then; the deadline survives a restart of the sender', async () => {
  // Every request is refused until the peer is told otherwise: both deposits may be in flight before the first 429.
  let limited = true;
  const p = await fakePeer(() => (limited ? { status: 429, json: { ok: false, detail: 'Rate limit exceeded' }, headers: { 'Retry-After': '120' } } : ok()));
  peers.push(p);
  const dir = tempDir();
  let s = track(await openSender({ dir, selfUrl: SELF, peers: [p.url] }));
  const t = s.clock();
  await s.mailboxes.deposit(sharedDm());
  await s.mailboxes.deposit(sharedDm());
  const link = () => s.replicator.link(p.url)!;
  await waitFor(() => link().state === 'backoff');
  expect(link().context.retryAt).toBeGreaterThanOrEqual(t + 120);
  expect(s.replicator.metrics.get('dm_replication_push_rate_limited')).toBeGreaterThanOrEqual(1);
  expect(link().queued).toBe(2);

  // Restart: the link comes back still parked until the same absolute deadline (re-armed, not reset).
  const retryAt = link().context.retryAt;
  await s.close();
  const requestsBefore = p.requests.length;
  s = track(await openSender({ dir, selfUrl: SELF, peers: [p.url], clock: s.clock }));
  expect(link().state).toBe('backoff');
  expect(link().context.retryAt).toBe(retryAt);
  expect(link().queued).toBe(2);
  expect(p.requests.length).toBe(requestsBefore);

  limited = false;
  s.replicator.retryNow();
  await waitFor(() => s.replicator.metrics.get('dm_replication_push_ok') === 2);
  await s.replicator.whenIdle();
  expect(await s.outbox.count()).toBe(0);
});

test('backoff: exponential per consecutive failure, capped, one probe at a time; expiry drops the item', async () => {
  const dead = await deadUrl();
  const s = track(await openSender({ selfUrl: SELF, peers: [dead], policy: { baseS: 10, capS: 40 } }));
  const link = s.replicator.link(dead)!;
  for (let i = 0; i < 5; i++) await s.mailboxes.deposit(sharedDm());
  const m = s.replicator.metrics;
  await waitFor(() => link.state === 'backoff' && m.get('dm_replication_push_error') >= 1);
  await waitFor(() => link.queued === 5);
  const steps: number[] = [];
  let errors = m.get('dm_replication_push_error');
  steps.push(Math.round(link.context.retryAt - s.clock()));
  for (let i = 0; i < 4; i++) {
    s.replicator.retryNow();
    await waitFor(() => m.get('dm_replication_push_error') === errors + 1 && link.state === 'backoff');
    errors++;
    steps.push(Math.round(link.context.retryAt - s.clock()));
  }
  // One probe per step while the peer stays down: 10·2^(n−1) capped at 40.
  expect(steps.slice(-3)).toEqual([40, 40, 40]);
  expect(steps.every((d, i) => i === 0 || d >= steps[i - 1])).toBe(true);
  expect(link.queued).toBe(5);

  s.clock.advance(3601); // past the relay TTL: nothing left worth delivering
  s.replicator.retryNow();
  await waitFor(() => link.queued === 0);
  expect(m.get('dm_replication_push_expired')).toBe(5);
  await s.replicator.whenIdle(); // the expired items' removal is a group-committed write of its own
  expect(await s.outbox.count()).toBe(0);
});

test('durable outbox: a peer down at send time receives after the sender restarted and the peer came back', async () => {
  const url = await deadUrl();
  const port = Number(new URL(url).port);
  const dir = tempDir();
  let s = track(await openSender({ dir, selfUrl: SELF, peers: [url] }));
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await s.mailboxes.deposit(sharedDm())).msg_id);
  // Acknowledged deposits have their outbox entries on disk already.
  expect(await s.outbox.count()).toBe(3);
  await waitFor(() => s.replicator.metrics.get('dm_replication_push_error') >= 1);
  await s.close();

  const p = await fakePeer(ok, { port });
  peers.push(p);
  s = track(await openSender({ dir, selfUrl: SELF, peers: [url], clock: s.clock }));
  expect(s.replicator.link(url)!.queued).toBe(3);
  s.replicator.retryNow();
  await s.replicator.whenIdle();
  // A backlog due at once goes out on the batch route (several envelopes due on an idle link share a request).
  const got = p.requests.flatMap((r) => {
    const b = JSON.parse(r.body.toString('utf8'));
    return (b.envelopes ?? [b.envelope]).map((e: { msg_id: string }) => e.msg_id);
  });
  expect(new Set(got)).toEqual(new Set(ids));
  expect(await s.outbox.count()).toBe(0);
});

test('an outbox envelope is stored without its body and rebuilt from the pending message after a restart; one claimed meanwhile is dropped', async () => {
  const url = await deadUrl();
  const port = Number(new URL(url).port);
  const dir = tempDir();
  let s = track(await openSender({ dir, selfUrl: SELF, peers: [url] }));
  const kept = sharedDm();
  const claimed = sharedDm();
  const keptId = (await s.mailboxes.deposit(kept)).msg_id;
  await s.mailboxes.deposit(claimed);
  // The same msg_id in another mailbox is another message, with its own body.
  const twin = { ...sharedDm(), msg_id: keptId };
  expect((await s.mailboxes.deposit(twin)).msg_id).toBe(keptId);
  // An envelope item as older versions stored it (with its body) still loads as it is.
  const legacyBody = Buffer.from('{"envelope":{"msg_id":"legacy-1"}}', 'utf8');
  await s.outbox.enqueue([url], { kind: 'envelope', msg_id: 'legacy-1', body: legacyBody, attempts: 0, next_attempt_at: 0, created_at: s.clock(), expires_at: s.clock() + 3600 });
  // What is on disk: the source mailbox, no body (the ciphertext is stored once, in the mailbox record).
  const stored: Array<Record<string, unknown>> = [];
  for await (const [, v] of s.outbox.items.iterator() as AsyncIterable<[string, Record<string, unknown>]>) stored.push(v);
  expect(stored).toHaveLength(4);
  for (const v of stored.filter((x) => x.msg_id !== 'legacy-1')) {
    expect(v.body).toBeUndefined();
    expect((v.source as { mailbox_key: string }).mailbox_key).toMatch(/^[0-9a-f]{64}$/);
  }
  await waitFor(() => s.replicator.metrics.get('dm_replication_push_error') >= 1);
  await s.close();

  // While the node is down as a relay (no push peers), the recipient of one message claims it.
  const offline = track(await openSender({ dir, selfUrl: SELF, peers: [] }));
  const taken = await offline.mailboxes.poll('', [{ type: 'shared', token: claimed.recipient_token }]);
  expect(taken.messages).toHaveLength(1);
  await offline.close();

  const p = await fakePeer(ok, { port });
  peers.push(p);
  s = track(await openSender({ dir, selfUrl: SELF, peers: [url], clock: s.clock }));
  expect(s.replicator.link(url)!.queued).toBe(3);
  expect(await s.outbox.count()).toBe(3);
  // One at a time, so each request carries one item's exact body.
  expect(s.replicator.link(url)!.cancelUnsentEnvelope('legacy-1', 'any mailbox')).toBe(true); // older items name none
  s.replicator.retryNow();
  await s.replicator.whenIdle();
  // Singles or a batch, whichever the link chose: each rebuilt envelope is in some request, byte for byte.
  const sent = p.requests.flatMap((r) => {
    const b = JSON.parse(r.body.toString('utf8')) as { envelope?: Record<string, unknown>; envelopes?: Array<Record<string, unknown>> };
    return b.envelopes ?? [b.envelope!];
  });
  expect(sent.map((e) => e.ciphertext).sort()).toEqual([kept.ciphertext, twin.ciphertext].sort());
  const mine = sent.find((e) => e.ciphertext === kept.ciphertext)!;
  expect(mine.msg_id).toBe(keptId);
  expect(mine.recipient_token).toBe('');
  // The same bytes a running sender builds at deposit time (§8.3.1; the MAC covers them).
  const env = await s.mailboxes.envelopeForReplication(mine.mailbox_key as string, keptId);
  const exact = envelopeBody(env!);
  const inner = exact.subarray('{"envelope":'.length, exact.length - 1);
  expect(p.requests.some((r) => r.body.equals(exact) || r.body.includes(inner))).toBe(true);
  for (const rec of p.requests) {
    expect(verifyPeerRequest({
      headerUrl: rec.headers['x-peer-url'], headerMac: rec.headers['x-peer-hmac'], body: rec.body, allowlist: [SELF],
      settings: { pushSecret: SECRET, peerSecrets: '' },
    }).ok).toBe(true);
  }
  expect(await s.outbox.count()).toBe(0);
});

test('§10.1: a claim cancels the unsent envelope of that message for a peer that never held it (no ack queued)', async () => {
  const url = await deadUrl();
  const s = track(await openSender({ selfUrl: SELF, peers: [url], policy: { baseS: 600 } }));
  const dms = [sharedDm(), sharedDm(), sharedDm()];
  const ids: string[] = [];
  for (const d of dms) ids.push((await s.mailboxes.deposit(d)).msg_id);
  // Another mailbox holding a message with the same msg_id (msg ids are the depositors'): its envelope stays.
  await s.mailboxes.deposit({ ...sharedDm('x'.repeat(32)), msg_id: ids[1] });
  await waitFor(() => s.replicator.metrics.get('dm_replication_push_error') >= 1); // the link is backing off: nothing in flight
  expect(s.replicator.link(url)!.queued).toBe(4);
  const polled = await s.mailboxes.poll('', [{ type: 'shared', token: dms[1].recipient_token }]);
  expect(polled.messages).toHaveLength(1);
  expect(s.replicator.metrics.get('dm_ack_cancelled_envelope')).toBe(1);
  expect(s.replicator.link(url)!.queued).toBe(3);
  await waitFor(async () => (await s.outbox.count()) === 3);
  const left: string[] = [];
  for await (const [, v] of s.outbox.items.iterator() as AsyncIterable<[string, { source: { mailbox_key: string } }]>) left.push(v.source.mailbox_key);
  expect(left).toContain(sharedMailboxKey('x'.repeat(32)));
  expect(left).not.toContain(sharedMailboxKey(dms[1].recipient_token));
});

test('peer push refuses to run without a configured secret, naming the settings; deposits still work', async () => {
  const p = await fakePeer(ok);
  peers.push(p);
  const s = track(await openSender({ selfUrl: SELF, peers: [p.url], env: { MESH_PEER_PUSH_SECRET: '' } }));
  const st = s.replicator.status();
  expect(st.enabled).toBe(false);
  expect(st.reason).toMatch(/MESH_PEER_PUSH_SECRET/);
  expect(st.reason).toMatch(/MESH_PEER_SECRETS/);
  expect((await s.mailboxes.deposit(sharedDm())).ok).toBe(true);
  expect(await s.outbox.count()).toBe(0);
  expect(p.requests).toHaveLength(0);
});
