// §12 DM relay cases T39–T46 (spec §7), against a real LevelDB store and the mailbox actors.
import { InfonetError } from '../../protocol/errors.js';
import { hydrationSenderTokenHash, sharedMailboxKey } from '../../protocol/mailbox-keys.js';
import { makeSenderProof } from '../../protocol/dm-sender-proof.js';
import { randomBytes } from 'node:crypto';
import { K1_NODE_ID, REQUEST_CLAIM, T0, b64, dmEvent, inChain, openRelay, removeDir, sealedLike, shared, type Relay } from './helpers.js';

const relays: Relay[] = [];
async function relay(env = {}): Promise<Relay> {
  const r = await openRelay({ env });
  relays.push(r);
  return r;
}
afterEach(async () => {
  for (const r of relays.splice(0)) {
    await r.close().catch(() => undefined);
    removeDir(r.dir);
  }
});

const aliceTo = (token: string, sender = 'alice', msg?: string) => ({
  sender_id: sender, recipient_id: 'bob', recipient_token: token, delivery_class: 'shared', ciphertext: sealedLike(), ...(msg ? { msg_id: msg } : {}),
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

test('T39 DM hydration delivers to poll/claim (seed test)', async () => {
  const r = await relay();
  const ev = dmEvent('dm-chain-1', { now: r.clock() });
  expect(await r.registry.hydrateFromChain([ev], inChain([ev]))).toBe(1);
  const polled = await r.registry.poll('recipient-a', REQUEST_CLAIM, 8);
  expect(polled.has_more).toBe(false);
  expect(polled.messages).toHaveLength(1);
  expect(polled.messages[0].msg_id).toBe('dm-chain-1');
  expect(polled.messages[0].ciphertext).toBe(ev.payload.ciphertext);
  expect(polled.messages[0].format).toBe('mls1');
});

test('T39b hydration only deposits events that are in the local chain', async () => {
  const r = await relay();
  const ev = dmEvent('dm-not-in-chain', { now: r.clock() });
  expect(await r.registry.hydrateFromChain([ev], () => false)).toBe(0);
  expect(await r.registry.count('recipient-a', REQUEST_CLAIM)).toBe(0);
});

test('T40 hydration idempotent', async () => {
  const r = await relay();
  const ev = dmEvent('dm-chain-1', { now: r.clock() });
  expect(await r.registry.hydrateFromChain([ev], inChain([ev]))).toBe(1);
  expect(await r.registry.hydrateFromChain([ev], inChain([ev]))).toBe(1);
  const polled = await r.registry.poll('recipient-a', REQUEST_CLAIM, 8);
  expect(polled.messages).toHaveLength(1);
  expect(polled.messages[0].sender_id).toBe(`sender_token:${hydrationSenderTokenHash(ev.event_id, K1_NODE_ID)}`);
});

test('T41 no re-delivery after claim [tightening] (re-hydration and restart)', async () => {
  let r = await relay();
  const ev = dmEvent('dm-chain-1', { now: r.clock() });
  await r.registry.hydrateFromChain([ev], inChain([ev]));
  expect((await r.registry.poll('recipient-a', REQUEST_CLAIM, 8)).messages).toHaveLength(1);
  expect(await r.registry.hydrateFromChain([ev], inChain([ev]))).toBe(1);
  expect((await r.registry.poll('recipient-a', REQUEST_CLAIM, 8)).messages).toHaveLength(0);
  r = await r.reopen();
  relays[0] = r;
  expect(await r.registry.hydrateFromChain([ev], inChain([ev]))).toBe(1);
  expect((await r.registry.poll('recipient-a', REQUEST_CLAIM, 8)).messages).toHaveLength(0);
});

test('T41b hydration skips DMs older than spool TTL + 3600 s [tightening]', async () => {
  const r = await relay();
  const old = dmEvent('dm-old', { now: r.clock() - (3600 + 3600) - 1 });
  const edge = dmEvent('dm-edge', { now: r.clock() - (3600 + 3600) });
  expect(await r.registry.hydrateFromChain([old, edge], inChain([old, edge]))).toBe(1);
  const polled = await r.registry.poll('recipient-a', REQUEST_CLAIM, 8);
  expect(polled.messages.map((m) => m.msg_id)).toEqual(['dm-edge']);
});

test('T42 relay per-sender cap', async () => {
  const r = await relay();
  const reg = r.registry;
  const tok = 'bob_mailbox_token_abc';
  const a1 = await reg.deposit(aliceTo(tok));
  const a2 = await reg.deposit(aliceTo(tok));
  expect(a1.ok && a2.ok).toBe(true);
  expect(a1.msg_id).not.toBe(a2.msg_id);
  const e = await rejection(reg.deposit(aliceTo(tok)));
  expect(e.code).toBe('relay_sender_cap');
  expect(e.reason).toContain('unread');
  expect(e.reason).toContain('read your messages');
  await reg.deposit(aliceTo(tok, 'carol'));
  await reg.deposit(aliceTo(tok, 'carol'));
  expect((await rejection(reg.deposit(aliceTo(tok, 'carol')))).reason).toContain('unread');
  await reg.deposit(aliceTo('other_token'));
  await reg.deposit(aliceTo('other_token'));
  expect((await reg.poll('bob', shared(tok), 8)).messages).toHaveLength(4);
  expect((await reg.deposit(aliceTo(tok))).ok).toBe(true);

  const r1 = await relay({ MESH_DM_PENDING_PER_SENDER_LIMIT: '1' });
  await r1.registry.deposit(aliceTo(tok));
  const e1 = await rejection(r1.registry.deposit(aliceTo(tok)));
  expect(e1.reason).toContain('1 unread message ');
  expect(e1.reason).toContain('read your messages');
});

test('T43 poll is destructive and ordered', async () => {
  const r = await relay();
  const tok = 'shared-t43';
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) {
    r.clock.advance(1);
    ids.push((await r.registry.deposit(aliceTo(tok, `sender-${i % 5}`, `m-${i}`))).msg_id);
  }
  expect(await r.registry.count('x', shared(tok))).toBe(10);
  expect(await r.registry.count('x', shared(tok))).toBe(10);
  const first = await r.registry.poll('x', shared(tok), 8);
  expect(first.messages.map((m) => m.msg_id)).toEqual(ids.slice(0, 8));
  expect(first.has_more).toBe(true);
  const ts = first.messages.map((m) => m.timestamp);
  expect([...ts].sort((a, b) => a - b)).toEqual(ts);
  const second = await r.registry.poll('x', shared(tok), 8);
  expect(second.messages.map((m) => m.msg_id)).toEqual(ids.slice(8));
  expect(second.has_more).toBe(false);
  expect(await r.registry.count('x', shared(tok))).toBe(0);
});

test('T44 relay limits', async () => {
  const r = await relay({ MESH_DM_MAX_MSG_BYTES: '8192' });
  const reg = r.registry;
  expect((await rejection(reg.deposit({ ...aliceTo('t44'), ciphertext: 'A'.repeat(8193) }))).reason).toBe('Message too large (8193 > 8192)');
  const req = (sender: string) => ({ sender_id: sender, recipient_id: 'recipient-a', delivery_class: 'request', ciphertext: sealedLike(), sender_token_hash: `h-${sender}` });
  const noToken = await rejection(reg.deposit({ sender_id: 's', recipient_id: 'recipient-a', delivery_class: 'request', ciphertext: sealedLike() }));
  expect(noToken.reason).toBe('sender_token required for request delivery');
  expect((await rejection(reg.deposit({ ...aliceTo(''), recipient_token: ' ' }))).reason).toBe('recipient_token required for shared delivery');
  expect((await rejection(reg.deposit({ ...aliceTo('x'), delivery_class: 'broadcast' }))).reason).toBe('Unsupported delivery_class');
  for (let i = 0; i < 12; i++) await reg.deposit(req(`s${i}`));
  const full = await rejection(reg.deposit(req('s12')));
  expect(full.reason).toBe('Recipient mailbox full');
  expect(full.code).toBe('relay_mailbox_full');
  r.clock.advance(3601);
  expect((await reg.poll('recipient-a', REQUEST_CLAIM, 8)).messages).toHaveLength(0);
  expect((await reg.deposit(req('s13'))).ok).toBe(true);
});

test('T45 accept_replica', async () => {
  const r = await relay();
  const reg = r.registry;
  const env = (id: string, ref: string) => ({ msg_id: id, mailbox_key: 'mailbox_xyz', sender_block_ref: ref, ciphertext: sealedLike() });
  expect(await reg.acceptReplica(env('r1', 'alice_block_ref'))).toEqual({ ok: true, msg_id: 'r1' });
  expect(await reg.acceptReplica(env('r1', 'alice_block_ref'))).toEqual({ ok: true, msg_id: 'r1', duplicate: true });
  expect(await reg.acceptReplica(env('r2', 'alice_block_ref'))).toEqual({ ok: true, msg_id: 'r2' });
  const cap = await rejection(reg.acceptReplica(env('r3', 'alice_block_ref')));
  expect(cap.reason).toBe('Per-sender cap reached on this relay; refusing replica');
  expect(cap.details).toEqual({ cap_violation: true, pending: 2, limit: 2 });
  expect((await reg.acceptReplica(env('r4', 'carol_block_ref'))).ok).toBe(true);
  expect(await reg.pendingIds('', [])).toEqual([]);
  for (const bad of [{}, { msg_id: 'x' }, { msg_id: 'x', mailbox_key: 'm' }, 'a string', null, [1]]) {
    const e = await rejection(reg.acceptReplica(bad));
    expect(e.code).toBe('relay_bad_envelope');
  }
  expect((await rejection(reg.acceptReplica('a string'))).reason).toBe('envelope must be an object');
  expect((await rejection(reg.acceptReplica({ msg_id: 'x', mailbox_key: 'm' }))).reason).toBe('envelope missing required fields');
});

test('T45b accept_replica from a network peer: signed senders keep their own cap, size and timestamp tightenings', async () => {
  const r = await relay();
  const reg = r.registry;
  const tok = 'bob_mailbox_token_abc';
  const alice = randomBytes(32);
  const carol = randomBytes(32);
  const env = (seed: Buffer, id: string, ts = r.clock()) => {
    const ciphertext = sealedLike();
    const proof = makeSenderProof(seed, { delivery_class: 'shared', recipient_token: tok, msg_id: id, ciphertext });
    return { msg_id: id, mailbox_key: 'ignored', recipient_token: tok, delivery_class: 'shared', sender_block_ref: 'ref:x', ciphertext, timestamp: ts, sender_proof: proof };
  };
  const peer = 'http://peer-a.onion';
  await reg.acceptReplica(env(alice, 'a1'), peer);
  await reg.acceptReplica(env(alice, 'a2', r.clock() + 10_000), peer);
  expect((await rejection(reg.acceptReplica(env(alice, 'a3'), peer))).details).toMatchObject({ cap_violation: true, pending: 2, limit: 2 });
  expect((await reg.acceptReplica(env(carol, 'c1'), peer)).ok).toBe(true);
  const big = { ...env(carol, 'c2'), ciphertext: 'A'.repeat(8193) };
  expect((await rejection(reg.acceptReplica(big, peer))).reason).toBe('Message too large (8193 > 8192)');
  const polled = await reg.poll('bob', shared(tok), 8);
  expect(polled.messages.map((m) => m.msg_id).sort()).toEqual(['a1', 'a2', 'c1']);
  // A future timestamp is clamped to now: the message cannot be made immortal.
  expect(Math.max(...polled.messages.map((m) => m.timestamp))).toBeLessThanOrEqual(r.clock());
});

test('pendingEnvelopesOf: the same envelopes as envelopeForReplication, from live actors and from stored records alike; null once claimed, expired or unknown', async () => {
  const r = await relay();
  const [t1, t2, t3] = ['pe-token-1', 'pe-token-2', 'pe-token-3'];
  for (const [t, id] of [[t1, 'pe-1'], [t2, 'pe-2'], [t3, 'pe-3']]) await r.registry.deposit(aliceTo(t, 'alice', id));
  await r.registry.poll('bob', shared(t2), 8); // pe-2 claimed
  const wanted = [
    { mailboxKey: sharedMailboxKey(t1), msgId: 'pe-1' }, { mailboxKey: sharedMailboxKey(t2), msgId: 'pe-2' },
    { mailboxKey: sharedMailboxKey(t3), msgId: 'pe-3', recipientId: 'bob' }, { mailboxKey: sharedMailboxKey(t1), msgId: 'unknown' },
  ];
  const expected = [
    await r.registry.envelopeForReplication(sharedMailboxKey(t1), 'pe-1'), null,
    await r.registry.envelopeForReplication(sharedMailboxKey(t3), 'pe-3', 'bob'), null,
  ];
  expect(expected[0]).not.toBeNull();
  expect(await r.registry.pendingEnvelopesOf(wanted)).toEqual(expected); // live actors
  expect(r.registry.passivateIdle(0)).toBeGreaterThan(0);
  expect(await r.registry.pendingEnvelopesOf(wanted)).toEqual(expected); // stored records, no actor started
  expect(r.registry.liveCount).toBe(0);
  r.clock.advance(r.registry.accessOptions().settings.messageTtlS + 1);
  expect(await r.registry.pendingEnvelopesOf(wanted)).toEqual([null, null, null, null]); // expired
});

test('T46 envelope round trip', async () => {
  const a = await relay();
  const b = await relay();
  const tok = 'round-trip-token';
  const dep = await a.registry.deposit(aliceTo(tok, 'alice', 'rt-1'));
  const env = await a.registry.envelopeForReplication(sharedMailboxKey(tok), dep.msg_id, 'bob', tok);
  expect(env).not.toBeNull();
  expect(env!.mailbox_key).toBe(sharedMailboxKey(tok));
  expect(await b.registry.acceptReplica(JSON.parse(JSON.stringify(env)), 'http://a.onion')).toEqual({ ok: true, msg_id: 'rt-1' });
  expect(await b.registry.acceptReplica(JSON.parse(JSON.stringify(env)), 'http://a.onion')).toMatchObject({ duplicate: true });
  const got = await b.registry.poll('bob', shared(tok), 8);
  expect(got.messages).toHaveLength(1);
  expect(got.messages[0]).toMatchObject({ msg_id: 'rt-1', ciphertext: env!.ciphertext });
  expect(await a.registry.envelopeForReplication(sharedMailboxKey(tok), 'unknown-id')).toBeNull();

  // Request mail: the mailbox key is peppered per node, so B recomputes it from the recipient id.
  const ev = dmEvent('dm-rt-2', { now: a.clock() });
  await a.registry.hydrateFromChain([ev], inChain([ev]));
  const [mk] = (await a.store.dueMailboxes(a.clock() + 7200)).filter((k) => k !== sharedMailboxKey(tok));
  const env2 = await a.registry.envelopeForReplication(mk, 'dm-rt-2');
  expect(env2?.recipient_id).toBe('recipient-a');
  expect((await b.registry.acceptReplica(env2, 'http://a.onion')).ok).toBe(true);
  const got2 = await b.registry.poll('recipient-a', REQUEST_CLAIM, 8);
  expect(got2.messages.map((m) => m.msg_id)).toEqual(['dm-rt-2']);
  expect(got2.messages[0].ciphertext).toBe(b64('cipher-dm-rt-2'));
  expect(T0).toBeGreaterThan(0);
});
