// Acks carry the recipient's signed poll (issue 8, docs/mailbox-access.md), so a big proof makes big ack items:
// the peer link cuts ack requests by size as well as by count, and every request stays within the 64 KiB route limit.
import { generateIdentity } from '../../protocol/identity.js';
import { signMailboxRequest, toMailboxProof } from '../../protocol/mailbox-access.js';
import { ACK_MAX_BYTES } from '../../protocol/peer-routes.js';
import { waitFor } from '../helpers/nats.js';
import { type FakePeer, type Sender, fakePeer, openSender, removeTempDirs, sealed } from '../replication/outbound-helpers.js';

let peer: FakePeer | undefined;
let sender: Sender | undefined;
afterAll(async () => {
  await sender?.close();
  await peer?.close();
  removeTempDirs();
});

test('96 acks with an 8-claim proof go out in requests of at most 64 KiB, each item with the proof', async () => {
  peer = await fakePeer((r) => ({ status: 200, json: r.url.endsWith('/dm/pull') ? { ok: true, envelopes: [] } : { ok: true } }));
  sender = await openSender({ peers: [peer.url], pullWaitMs: 50, env: { MESH_DM_PENDING_PER_SENDER_LIMIT: '12' } });
  const tokens = Array.from({ length: 8 }, (_, i) => `room-${i}-${'x'.repeat(40)}`);
  for (const t of tokens) {
    for (let i = 0; i < 12; i++) await sender.mailboxes.deposit({ sender_id: 'alice', ciphertext: sealed(), delivery_class: 'shared', recipient_token: t });
  }
  const m = sender.replicator.metrics;
  await waitFor(() => m.get('dm_replication_push_ok') === 96, 30_000);
  const bob = generateIdentity();
  const claims = tokens.map((token) => ({ type: 'shared', token }));
  const proof = toMailboxProof(signMailboxRequest(bob, 'poll', { claims, timestamp: sender.clock(), nonce: 'n' }));
  const polled = await sender.mailboxes.poll(bob.nodeId, claims, 100, proof);
  expect(polled.messages).toHaveLength(96);
  await waitFor(() => m.get('dm_ack_push_ok') === 96, 30_000);
  const ackRequests = peer.requests.filter((r) => r.url.endsWith('/dm/ack'));
  expect(ackRequests.length).toBeGreaterThanOrEqual(2);
  let items = 0;
  for (const r of ackRequests) {
    expect(r.body.length).toBeLessThanOrEqual(ACK_MAX_BYTES);
    const acks = JSON.parse(r.body.toString('utf8')).acks as Array<{ proof?: unknown }>;
    for (const a of acks) expect(a.proof).toEqual(proof);
    items += acks.length;
  }
  expect(items).toBe(96);
}, 60_000);
