// Outbound replication between real nodes (issue 5 checks): push over loopback HTTP and over the bus, a peer
// that was down at send time receives after it returns (and after the SENDER restarted), ack propagation prunes
// copies on other nodes and frees the sender's quota there (§10.1), pull-from-peers in a partial mesh (§10.2).
import { randomBytes } from 'node:crypto';
import { startHubWithLeaves, stopAll as stopNats, waitFor, type Federation } from '../helpers/nats.js';
import { removeTempDirs, sealed } from './outbound-helpers.js';
import { Mesh } from './outbound-mesh.js';
import { generateIdentity } from '../../protocol/identity.js';
import { signMailboxRequest, toMailboxProof } from '../../protocol/mailbox-access.js';

const token = (): string => randomBytes(16).toString('hex');
const dm = (tok: string, sender = 'alice') => ({ sender_id: sender, ciphertext: sealed(), delivery_class: 'shared', recipient_token: tok });
const claims = (tok: string) => [{ type: 'shared', token: tok }];
// Issue 8: acks and pulls travel with the recipient's signed poll; in-process polls hand it to the registry.
const bob = generateIdentity();
let nonce = 0;
const proof = (tok: string) => toMailboxProof(signMailboxRequest(bob, 'poll', { claims: claims(tok), timestamp: Date.now() / 1000, nonce: `n${++nonce}` }));

let meshes: Mesh[] = [];
afterEach(async () => {
  for (const m of meshes.splice(0)) await m.stopAll();
});
afterAll(async () => {
  await stopNats();
  removeTempDirs();
});

test('push over loopback HTTP: a deposit on A reaches B; B does not re-replicate it', async () => {
  const mesh = await Mesh.create(['a', 'b']);
  meshes.push(mesh);
  await mesh.startAll();
  const tok = token();
  const r = await mesh.get('a').mailboxes.deposit(dm(tok));
  await waitFor(async () => (await mesh.get('b').mailboxes.count('bob', claims(tok))) === 1);
  expect(await mesh.get('b').mailboxes.pendingIds('bob', claims(tok))).toEqual([r.msg_id]);
  await mesh.get('a').replication!.whenIdle();
  const st = (await mesh.get('a').status()).replication!;
  expect(st.metrics.dm_replication_push_ok).toBe(1);
  expect(mesh.get('b').replication!.metrics.get('dm_replication_enqueued')).toBe(0); // §7.8.11
});

test('push over the bus: nats://<node id> peers on one hub + leaf federation', async () => {
  const fed: Federation = await startHubWithLeaves(2);
  const mesh = await Mesh.create(['a', 'b'], { transport: 'bus', natsUrls: { a: fed.leaves[0].clientUrl, b: fed.leaves[1].clientUrl } });
  meshes.push(mesh);
  await mesh.startAll();
  const tok = token();
  await mesh.get('a').mailboxes.deposit(dm(tok));
  // Interest in b's peer subject crosses the leaf links shortly after its server subscribes; until then the
  // link sees "no responders" and retries, which is exactly the durable-outbox path.
  await waitFor(async () => (await mesh.get('b').mailboxes.count('bob', claims(tok))) === 1, 15_000);
  await waitFor(() => mesh.get('a').replication!.metrics.get('dm_replication_push_ok') === 1); // counted when the answer arrives
  expect(mesh.get('a').replication!.link(mesh.nodes.get('b')!.url)).toBeDefined();
});

test('a peer down at send time receives after it comes back, across a restart of the sender', async () => {
  const mesh = await Mesh.create(['a', 'b']);
  meshes.push(mesh);
  await mesh.start('a'); // b is not running
  const toks = [token(), token()];
  for (const t of toks) await mesh.get('a').mailboxes.deposit(dm(t));
  await waitFor(() => mesh.get('a').replication!.metrics.get('dm_replication_push_error') >= 1);
  await mesh.stop('a');

  await mesh.start('b');
  await mesh.start('a');
  // The restored link re-arms its backoff from the persisted absolute deadline (≤ a few seconds here).
  await waitFor(async () => {
    const counts = await Promise.all(toks.map((t) => mesh.get('b').mailboxes.count('bob', claims(t))));
    return counts.every((c) => c === 1);
  }, 15_000);
  await mesh.get('a').replication!.whenIdle();
});

test('ack propagation: a claim on B prunes the copies on A and C and frees the sender quota there (§10.1)', async () => {
  const mesh = await Mesh.create(['a', 'b', 'c']);
  meshes.push(mesh);
  await mesh.startAll();
  const tok = token();
  const a = mesh.get('a'), b = mesh.get('b'), c = mesh.get('c');
  await a.mailboxes.deposit(dm(tok));
  await a.mailboxes.deposit(dm(tok));
  await expect(a.mailboxes.deposit(dm(tok))).rejects.toThrow(/unread/); // per-sender cap (2) on A
  await waitFor(async () => (await b.mailboxes.count('bob', claims(tok))) === 2 && (await c.mailboxes.count('bob', claims(tok))) === 2);

  const polled = await b.mailboxes.poll(bob.nodeId, claims(tok), undefined, proof(tok));
  expect(polled.messages).toHaveLength(2);
  await waitFor(async () => (await a.mailboxes.count('bob', claims(tok))) === 0 && (await c.mailboxes.count('bob', claims(tok))) === 0);
  await waitFor(() => b.replication!.metrics.get('dm_ack_push_ok') === 4); // 2 acks × 2 peers
  // Receivers do not re-propagate acks.
  expect(a.replication!.metrics.get('dm_ack_enqueued')).toBe(0);
  expect(c.replication!.metrics.get('dm_ack_enqueued')).toBe(0);

  // Quota freed mesh-wide: the same sender can park two new messages, and C accepts both replicas again.
  await a.mailboxes.deposit(dm(tok));
  await a.mailboxes.deposit(dm(tok));
  await waitFor(async () => (await c.mailboxes.count('bob', claims(tok))) === 2);
  expect(a.replication!.metrics.get('dm_replication_push_rejected')).toBe(0);
});

test('pull-from-peers in a partial mesh (A↔B, B↔C): a recipient polling C gets a DM deposited on A (§10.2)', async () => {
  const mesh = await Mesh.create(['a', 'b', 'c'], { edges: [['a', 'b'], ['b', 'c']] });
  meshes.push(mesh);
  await mesh.startAll();
  const tok = token();
  const a = mesh.get('a'), b = mesh.get('b'), c = mesh.get('c');
  const r = await a.mailboxes.deposit(dm(tok));
  await waitFor(async () => (await b.mailboxes.count('bob', claims(tok))) === 1);
  expect(await c.mailboxes.count('bob', claims(tok))).toBe(0); // nobody pushes to C

  const polled = await c.mailboxes.poll(bob.nodeId, claims(tok), undefined, proof(tok));
  expect(polled.messages.map((m) => m.msg_id)).toEqual([r.msg_id]);
  expect(c.replication!.metrics.get('dm_pull_accepted')).toBe(1);
  // C's claim acks to its peer B, which deletes its copy.
  await waitFor(async () => (await b.mailboxes.count('bob', claims(tok))) === 0);
  // A second poll within 30 s does not ask the peers again.
  await c.mailboxes.poll(bob.nodeId, claims(tok), undefined, proof(tok));
  expect(c.replication!.metrics.get('dm_pull_requests')).toBe(1);
  expect(c.replication!.metrics.get('dm_pull_throttled')).toBe(1);
});
