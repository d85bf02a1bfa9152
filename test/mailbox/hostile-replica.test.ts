// [tightening] §7.8: the per-sender cap holds against a hostile relay that varies every envelope field
// it controls (docs/mailbox-sender-cap.md). The cap is keyed on the verified sender key, or — for
// envelopes without a valid proof — on the authenticated originating peer.
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { makeSenderProof } from '../../protocol/dm-sender-proof.js';
import { InfonetError } from '../../protocol/errors.js';
import { sharedMailboxKey } from '../../protocol/mailbox-keys.js';
import { openRelay, removeDir, sealedLike, shared, type Relay } from './helpers.js';

const TOK = 'bob_mailbox_token_abc';
const EVIL = 'http://evil.onion';
let r: Relay;
beforeEach(async () => { r = await openRelay(); });
afterEach(async () => { await r.close().catch(() => undefined); removeDir(r.dir); });

const alice = randomBytes(32);

function signed(seed: Buffer, msgId: string, ciphertext = sealedLike()) {
  return {
    msg_id: msgId, mailbox_key: sharedMailboxKey(TOK), recipient_id: 'bob', recipient_token: TOK, delivery_class: 'shared',
    sender_id: 'alice', sender_block_ref: 'ref:alice', sender_seal: '', ciphertext, timestamp: r.clock(), relay_salt: '',
    payload_format: 'dm1', session_welcome: '', sender_proof: makeSenderProof(seed, { delivery_class: 'shared', recipient_token: TOK, msg_id: msgId, ciphertext }),
  };
}

async function outcome(p: Promise<unknown>): Promise<'ok' | 'dup' | string> {
  try {
    const res = (await p) as { duplicate?: boolean };
    return res.duplicate ? 'dup' : 'ok';
  } catch (e) {
    if (e instanceof InfonetError) return e.code;
    throw e;
  }
}

/** Arbitrary hostile envelopes aimed at bob's shared mailbox: every field the relay controls varies. */
const hostileEnvelope = fc.record({
  msg_id: fc.string({ minLength: 1, maxLength: 20 }),
  sender_block_ref: fc.string({ minLength: 1, maxLength: 30 }),
  sender_id: fc.string({ maxLength: 30 }),
  timestamp: fc.oneof(fc.integer(), fc.double(), fc.constant(0)),
  relay_salt: fc.string({ maxLength: 10 }),
  sender_seal: fc.string({ maxLength: 10 }),
  session_welcome: fc.string({ maxLength: 10 }),
  payload_format: fc.constantFrom('dm1', 'mls1', 'x'),
  target: fc.constantFrom('token', 'key', 'key-noclass'),
  proof: fc.constantFrom('none', 'alice-key-random-sig', 'alice-sig-other-msg', 'garbage'),
});

test('unsigned or forged envelopes from one peer share one per-sender budget, whatever they vary', async () => {
  const genuine = signed(alice, 'genuine-1');
  const samples = fc.sample(hostileEnvelope, { numRuns: 300, seed: 42 });
  let accepted = 0;
  for (const s of samples) {
    const env: Record<string, unknown> = {
      msg_id: s.msg_id, sender_block_ref: s.sender_block_ref, sender_id: s.sender_id, timestamp: s.timestamp,
      relay_salt: s.relay_salt, sender_seal: s.sender_seal, session_welcome: s.session_welcome, payload_format: s.payload_format,
      ciphertext: sealedLike(),
      ...(s.target === 'token' ? { recipient_token: TOK, delivery_class: 'shared' } : {}),
      ...(s.target === 'key' ? { mailbox_key: sharedMailboxKey(TOK), delivery_class: 'shared' } : {}),
      ...(s.target === 'key-noclass' ? { mailbox_key: sharedMailboxKey(TOK) } : {}),
    };
    if (s.proof === 'alice-key-random-sig') env.sender_proof = { public_key: genuine.sender_proof.public_key, signature: randomBytes(64).toString('hex') };
    if (s.proof === 'alice-sig-other-msg') env.sender_proof = genuine.sender_proof; // replayed onto other fields
    if (s.proof === 'garbage') env.sender_proof = { public_key: 'x', signature: 'y' };
    const o = await outcome(r.registry.acceptReplica(env, EVIL));
    if (o === 'ok') accepted++;
    else expect(['dup', 'relay_sender_cap', 'relay_bad_envelope']).toContain(o);
  }
  expect(accepted).toBe(2);
  expect(await r.registry.count('bob', shared(TOK))).toBe(2);
  // An honest peer's unsigned traffic has its own budget; alice's signed mail has hers.
  expect(await outcome(r.registry.acceptReplica({ msg_id: 'honest-1', mailbox_key: sharedMailboxKey(TOK), sender_block_ref: 'ref:q', ciphertext: sealedLike() }, 'http://honest.onion'))).toBe('ok');
  expect(await outcome(r.registry.acceptReplica(genuine, EVIL))).toBe('ok');
});

test("a relay replaying or re-labelling alice's genuine envelopes cannot exceed alice's cap", async () => {
  const a1 = signed(alice, 'a-1');
  const a2 = signed(alice, 'a-2');
  const a3 = signed(alice, 'a-3');
  expect(await outcome(r.registry.acceptReplica(a1, EVIL))).toBe('ok');
  // Same proof, new msg_id / new sender_block_ref / new sender_id / new timestamp: the proof no longer
  // verifies, so the envelope falls into EVIL's unsigned budget (2 in total), never into more.
  const variants = [
    { ...a1, msg_id: 'a-1-x' }, { ...a1, msg_id: 'a-1-y', sender_block_ref: 'ref:other' }, { ...a1, msg_id: 'a-1-z', sender_id: 'mallory', timestamp: 1 },
    { ...a1, msg_id: 'a-1-w', relay_salt: 'salt' },
  ];
  const results = [];
  for (const v of variants) results.push(await outcome(r.registry.acceptReplica(v, EVIL)));
  expect(results).toEqual(['ok', 'ok', 'relay_sender_cap', 'relay_sender_cap']);
  // Same msg_id, new sender_block_ref: a duplicate, not a second copy.
  expect(await outcome(r.registry.acceptReplica({ ...a1, sender_block_ref: 'ref:zzz' }, EVIL))).toBe('dup');
  // Alice's real second message passes via any relay; the third is refused via every relay.
  expect(await outcome(r.registry.acceptReplica(a2, 'http://other.onion'))).toBe('ok');
  expect(await outcome(r.registry.acceptReplica(a3, EVIL))).toBe('relay_sender_cap');
  expect(await outcome(r.registry.acceptReplica(a3, 'http://honest.onion'))).toBe('relay_sender_cap');
  expect(await outcome(r.registry.acceptReplica({ ...a3, sender_proof: undefined }, 'http://honest.onion'))).toBe('ok');
  expect(await r.registry.count('bob', shared(TOK))).toBe(5);
});

test("alice's cap is shared between signed local deposits and signed replicas", async () => {
  const ct = sealedLike();
  const proof = makeSenderProof(alice, { delivery_class: 'shared', recipient_token: TOK, msg_id: 'local-1', ciphertext: ct });
  expect((await r.registry.deposit({ sender_id: 'alice-local-name', recipient_token: TOK, delivery_class: 'shared', ciphertext: ct, msg_id: 'local-1', sender_proof: proof })).ok).toBe(true);
  expect(await outcome(r.registry.acceptReplica(signed(alice, 'rep-1'), EVIL))).toBe('ok');
  expect(await outcome(r.registry.acceptReplica(signed(alice, 'rep-2'), 'http://x.onion'))).toBe('relay_sender_cap');
  const ct3 = sealedLike();
  const bad = makeSenderProof(alice, { delivery_class: 'shared', recipient_token: TOK, msg_id: 'local-2', ciphertext: 'different' });
  expect(await outcome(r.registry.deposit({ sender_id: 'alice', recipient_token: TOK, delivery_class: 'shared', ciphertext: ct3, msg_id: 'local-2', sender_proof: bad }))).toBe('invalid_signature');
});
