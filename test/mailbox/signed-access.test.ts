// Issue 8 on a real LevelDB store and the real chain actor (persisted dm_poll / dm_count / dm_block domains):
// signed mailbox access, acks and pulls only the recipient can cause, recipient block lists, bounded bindings.
import { randomBytes } from 'node:crypto';
import { InfonetError } from '../../protocol/errors.js';
import { generateIdentity, identityFromSeed, type Identity } from '../../protocol/identity.js';
import { makeSenderProof } from '../../protocol/dm-sender-proof.js';
import { signBlockRequest } from '../../protocol/block-list.js';
import { sha256Hex } from '../../protocol/mailbox-keys.js';
import { type MailboxAccessKind, signMailboxRequest, toMailboxProof } from '../../protocol/mailbox-access.js';
import type { MailboxDomainEvent } from '../../actors/mailbox-registry.js';
import { openSignedRelay, removeDir, sealedLike, type SignedRelay } from './helpers.js';

const BOB = identityFromSeed(Buffer.alloc(32, 0xb0));
const MALLORY = identityFromSeed(Buffer.alloc(32, 0x3a));
const ALICE = identityFromSeed(Buffer.alloc(32, 0xa1));
const BOB_TOKEN = 'bob-request-token';

const relays: SignedRelay[] = [];
async function relay(): Promise<SignedRelay> {
  const r = await openSignedRelay();
  relays.push(r);
  return r;
}
afterEach(async () => {
  for (const r of relays.splice(0)) {
    await r.close().catch(() => undefined);
    removeDir(r.dir);
  }
});

async function rejection(p: Promise<unknown>): Promise<InfonetError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(InfonetError);
    return e as InfonetError;
  }
  throw new Error('expected a rejection');
}

let seq = 1;
const sign = (r: SignedRelay, id: Identity, kind: MailboxAccessKind, o: { token?: string; nonce?: string; sequence?: number; at?: number; msg_ids?: string[]; shared?: string } = {}) =>
  signMailboxRequest(id, kind, {
    claims: o.shared ? [{ type: 'shared', token: o.shared }] : [{ type: 'requests', token: o.token ?? BOB_TOKEN }],
    timestamp: o.at ?? r.clock(), nonce: o.nonce ?? randomBytes(8).toString('hex'), sequence: o.sequence ?? seq++,
    ...(o.msg_ids ? { msg_ids: o.msg_ids } : {}),
  });

const depositForBob = (r: SignedRelay, sender: Identity = ALICE, msgId?: string) => {
  const ciphertext = sealedLike();
  const id = msgId ?? `m-${randomBytes(6).toString('hex')}`;
  const target = { delivery_class: 'request', recipient_id: BOB.nodeId };
  return r.registry.deposit({
    sender_id: sender.nodeId, ciphertext, msg_id: id, sender_token_hash: sha256Hex(`t|${sender.nodeId}`), ...target,
    sender_proof: makeSenderProof(sender.seed, { ...target, msg_id: id, ciphertext }),
  });
};
const bobPending = (r: SignedRelay) => r.registry.count(BOB.nodeId, [{ type: 'requests', token: BOB_TOKEN }]);

test('issue 8 reproduction: another key, a bad signature, a replayed nonce, a stale timestamp, a replayed sequence → typed error, Bob\'s mailbox unchanged', async () => {
  const r = await relay();
  await depositForBob(r);
  expect(await bobPending(r)).toBe(1);

  // Mallory names Bob's agent id with her own key (or Bob's key with her signature).
  const asBob = { ...sign(r, MALLORY, 'poll'), agent_id: BOB.nodeId };
  expect(await rejection(r.access.poll(asBob))).toMatchObject({ code: 'node_id_mismatch', reason: 'node_id mismatch' });
  const forged = { ...sign(r, MALLORY, 'poll'), agent_id: BOB.nodeId, public_key: BOB.publicKey };
  expect(await rejection(r.access.poll(forged))).toMatchObject({ code: 'invalid_signature', reason: 'Invalid signature' });
  expect(await rejection(r.access.count(forged))).toMatchObject({ reason: 'Invalid signature' });
  expect(await rejection(r.access.pendingIds(forged))).toMatchObject({ reason: 'Invalid signature' });
  // Mallory polling as herself with Bob's token opens only her own request mailbox.
  expect((await r.access.poll(sign(r, MALLORY, 'poll', { token: 'not-bobs' }))).messages).toEqual([]);
  expect((await r.access.poll(sign(r, MALLORY, 'poll', { token: BOB_TOKEN }))).messages).toEqual([]);
  expect(await bobPending(r)).toBe(1);

  // Stale and future timestamps.
  expect(await rejection(r.access.poll(sign(r, BOB, 'poll', { at: r.clock() - 301 })))).toMatchObject({ code: 'stale_timestamp' });
  expect(await rejection(r.access.poll(sign(r, BOB, 'poll', { at: r.clock() + 301 })))).toMatchObject({ code: 'stale_timestamp' });
  expect(await rejection(r.access.poll({ ...sign(r, BOB, 'poll'), nonce: '' }))).toMatchObject({ code: 'nonce', reason: 'Missing nonce' });
  expect(await bobPending(r)).toBe(1);

  // Bob's own poll works once; the same request replayed (after new mail arrived) is refused.
  const good = sign(r, BOB, 'poll', { nonce: 'bob-n1', sequence: 1000 });
  expect((await r.access.poll(good)).messages).toHaveLength(1);
  await depositForBob(r);
  expect(await rejection(r.access.poll(good))).toMatchObject({ code: 'nonce', reason: 'nonce replay detected' });
  // A new nonce with an old sequence: the persisted dm_poll domain refuses it, and the nonce is not used up.
  expect(await rejection(r.access.poll(sign(r, BOB, 'poll', { nonce: 'bob-n2', sequence: 1000 })))).toMatchObject({
    code: 'replay', reason: 'Replay detected: sequence 1000 <= last 1000',
  });
  expect(await bobPending(r)).toBe(1);
  // dm_count is its own domain: a count at sequence 1000 is fine and changes nothing (nonces are per agent).
  expect(await r.access.count(sign(r, BOB, 'count', { nonce: 'bob-n3', sequence: 1000 }))).toBe(1);
  expect((await r.access.poll(sign(r, BOB, 'poll', { nonce: 'bob-n2', sequence: 1001 }))).messages).toHaveLength(1);
  expect(await bobPending(r)).toBe(0);
});

test('the dm_poll sequence domain survives a restart (the nonce cache need not)', async () => {
  const r = await relay();
  await r.access.poll(sign(r, BOB, 'poll', { sequence: 77 }));
  await r.close();
  const again = await openSignedRelay({ dir: r.dir, clock: r.clock });
  relays[0] = again;
  expect(await rejection(again.access.poll(sign(again, BOB, 'poll', { sequence: 77 })))).toMatchObject({ reason: 'Replay detected: sequence 77 <= last 77' });
  expect((await again.access.poll(sign(again, BOB, 'poll', { sequence: 78 }))).messages).toEqual([]);
});

test('signed claim removes only the signed msg_ids; tampering with msg_ids breaks the signature', async () => {
  const r = await relay();
  const a = await depositForBob(r);
  const b = await depositForBob(r, MALLORY);
  const req = sign(r, BOB, 'claim', { msg_ids: [a.msg_id] });
  expect(await rejection(r.access.claim({ ...req, msg_ids: [a.msg_id, b.msg_id] }))).toMatchObject({ reason: 'Invalid signature' });
  expect((await r.access.claim(req)).map((m) => m.msg_id)).toEqual([a.msg_id]);
  expect(await r.access.pendingIds(sign(r, BOB, 'pending_ids'))).toEqual([b.msg_id]);
});

test('bounded bindings: 100 KB agent ids are refused, 6,000 distinct ids keep the map at its cap', async () => {
  const r = await relay();
  const huge = '!sb_' + 'a'.repeat(100_000);
  expect(await rejection(r.registry.count(huge, [{ type: 'requests', token: 't' }]))).toMatchObject({ code: 'bad_input' });
  expect(await rejection(r.access.count({ ...sign(r, BOB, 'count'), agent_id: huge }))).toMatchObject({ code: 'bad_input' });
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < 6000; i++) await r.registry.count(`!sb_${i.toString(16).padStart(32, '0')}`, [{ type: 'requests', token: `tok-${i}` }]);
  expect(r.registry.bindings.size).toBeLessThanOrEqual(r.registry.bindings.max);
  // 6,000 ids × ~200 B is ~1.2 MB even unbounded now that ids are ≤ 36 chars; the 1.2 GB came from 100 KB ids.
  process.stdout.write(`bindings: ${r.registry.bindings.size} entries, heap +${Math.round((process.memoryUsage().heapUsed - before) / 1e6)} MB\n`);
});

describe('acks and pulls only the recipient can cause', () => {
  const descriptor = { delivery_class: 'request', recipient_id: BOB.nodeId };

  test('an ack without a proof, with another agent\'s proof, or a forged proof deletes nothing; the recipient\'s poll does', async () => {
    const r = await relay();
    const { msg_id } = await depositForBob(r);
    expect(await r.registry.applyAck(msg_id, descriptor)).toBe(false);
    expect(await r.registry.applyAck(msg_id, descriptor, toMailboxProof(sign(r, MALLORY, 'poll')))).toBe(false);
    const bobs = toMailboxProof(sign(r, BOB, 'poll'));
    expect(await r.registry.applyAck(msg_id, descriptor, { ...bobs, signature: '11'.repeat(64) })).toBe(false);
    expect(await r.registry.applyAck(msg_id, descriptor, { ...bobs, claims: [{ type: 'shared', token_hash: sha256Hex('x') }] })).toBe(false);
    expect(await r.registry.applyAck(msg_id, { delivery_class: 'request', recipient_id: MALLORY.nodeId }, bobs)).toBe(false);
    expect(await bobPending(r)).toBe(1);
    expect(await r.registry.applyAck(msg_id, descriptor, JSON.parse(JSON.stringify(bobs)))).toBe(true);
    expect(await bobPending(r)).toBe(0);
  });

  test('a poll cannot ack a message stored after it, and a proof older than the message TTL is refused', async () => {
    const r = await relay();
    const early = toMailboxProof(sign(r, BOB, 'poll'));
    r.clock.advance(60);
    const { msg_id } = await depositForBob(r);
    expect(await r.registry.applyAck(msg_id, descriptor, early)).toBe(false);
    r.clock.advance(3600);
    const late = await depositForBob(r);
    const stale = toMailboxProof(sign(r, BOB, 'poll', { at: r.clock() - 3601 }));
    expect(await r.registry.applyAck(late.msg_id, descriptor, stale)).toBe(false);
    expect(await bobPending(r)).toBe(1);
  });

  test('shared mailboxes: the proof names SHA-256(token) — the token itself never travels', async () => {
    const r = await relay();
    const tok = 'room-token';
    const { msg_id } = await r.registry.deposit({ sender_id: 'alice', recipient_token: tok, delivery_class: 'shared', ciphertext: sealedLike() });
    const sharedDesc = { delivery_class: 'shared', recipient_token_hash: sha256Hex(tok) };
    expect(await r.registry.pendingEnvelopes(sharedDesc, 10)).toEqual([]);
    expect(await r.registry.pendingEnvelopes(sharedDesc, 10, toMailboxProof(sign(r, MALLORY, 'poll', { shared: 'guess' })))).toEqual([]);
    const proof = toMailboxProof(sign(r, MALLORY, 'poll', { shared: tok }));
    expect(JSON.stringify(proof)).not.toContain(tok);
    expect((await r.registry.pendingEnvelopes(sharedDesc, 10, proof)).map((e) => e.msg_id)).toEqual([msg_id]);
    expect(await r.registry.applyAck(msg_id, sharedDesc, proof)).toBe(true);
  });

  test('pull without a covering proof returns nothing; a signed poll\'s claimed events carry its proof', async () => {
    const r = await relay();
    const { msg_id } = await depositForBob(r);
    expect(await r.registry.pendingEnvelopes(descriptor, 10)).toEqual([]);
    expect(await r.registry.pendingEnvelopes(descriptor, 10, toMailboxProof(sign(r, MALLORY, 'poll')))).toEqual([]);
    const seen: MailboxDomainEvent[] = [];
    const sub = r.registry.events$.subscribe((e) => seen.push(e));
    const req = sign(r, BOB, 'poll');
    expect((await r.registry.pendingEnvelopes(descriptor, 10, toMailboxProof(req))).map((e) => e.msg_id)).toEqual([msg_id]);
    await r.access.poll(req);
    sub.unsubscribe();
    const claimed = seen.find((e) => e.type === 'claimed');
    expect(claimed).toMatchObject({ msg_id, proof: toMailboxProof(req) });
  });
});

describe('recipient block lists (dm_block)', () => {
  const block = (r: SignedRelay, action: 'block' | 'unblock', sender: string, nonce = randomBytes(8).toString('hex')) =>
    r.access.block(signBlockRequest(BOB, { action, sender_id: sender, timestamp: r.clock(), nonce, sequence: seq++ }));

  test('a blocked sender\'s deposits and replicas are refused; unblock lets them through; blocks survive a restart', async () => {
    const r = await relay();
    expect(await block(r, 'block', ALICE.nodeId, 'blk-1')).toMatchObject({ ok: true, blocked: true });
    const e = await rejection(depositForBob(r));
    expect(e).toMatchObject({ code: 'relay_blocked', reason: 'Recipient is not accepting your messages' });
    // A proof-signed deposit that claims another sender id is still Alice's.
    const ciphertext = sealedLike();
    const target = { delivery_class: 'request', recipient_id: BOB.nodeId };
    const disguised = { sender_id: 'someone-else', ciphertext, msg_id: 'd1', sender_token_hash: 'h', ...target, sender_proof: makeSenderProof(ALICE.seed, { ...target, msg_id: 'd1', ciphertext }) };
    expect(await rejection(r.registry.deposit(disguised))).toMatchObject({ code: 'relay_blocked' });
    // Replicas: with Alice's sender proof, or naming Alice as sender.
    const env = { msg_id: 'rep-1', mailbox_key: 'x', recipient_id: BOB.nodeId, delivery_class: 'request', sender_id: ALICE.nodeId, sender_block_ref: 'ref:other-node', ciphertext: sealedLike(), timestamp: r.clock() };
    expect(await rejection(r.registry.acceptReplica(env, 'http://peer.onion'))).toMatchObject({ reason: 'Recipient is not accepting your messages' });
    const ct2 = sealedLike();
    const proofEnv = { ...env, msg_id: 'rep-2', sender_id: 'sender_token:abc', ciphertext: ct2, sender_proof: makeSenderProof(ALICE.seed, { ...target, msg_id: 'rep-2', ciphertext: ct2 }) };
    expect(await rejection(r.registry.acceptReplica(proofEnv, 'http://peer.onion'))).toMatchObject({ code: 'relay_blocked' });
    expect((await depositForBob(r, MALLORY)).ok).toBe(true); // only Alice is blocked
    // Replayed block request: nonce cache.
    expect(await rejection(block(r, 'block', ALICE.nodeId, 'blk-1'))).toMatchObject({ reason: 'nonce replay detected' });

    await r.close();
    const again = await openSignedRelay({ dir: r.dir, clock: r.clock });
    relays[0] = again;
    expect(await rejection(depositForBob(again))).toMatchObject({ code: 'relay_blocked' });
    expect(await block(again, 'unblock', ALICE.nodeId)).toMatchObject({ ok: true, blocked: false });
    expect((await depositForBob(again)).ok).toBe(true);
  });

  test('only the recipient can block for itself: Mallory\'s key cannot sign Bob\'s block', async () => {
    const r = await relay();
    const forged = { ...signBlockRequest(MALLORY, { action: 'block', sender_id: ALICE.nodeId, timestamp: r.clock(), nonce: 'x', sequence: 1 }), agent_id: BOB.nodeId };
    expect(await rejection(r.access.block(forged))).toMatchObject({ reason: 'node_id mismatch' });
    expect((await depositForBob(r)).ok).toBe(true);
    expect(generateIdentity().nodeId).toHaveLength(36);
  });
});
