// Pure rules of signed mailbox access (issue 8): the signed string, binding/signature checks, the forwardable proof,
// proof coverage for peer acks/pulls, the nonce cache bounds, bounded bindings and dm_block requests.
import { createHash } from 'node:crypto';
import { BlockList, readSignedBlockRequest, signBlockRequest, verifyBlockSignature } from '../../protocol/block-list.js';
import { manualClock } from '../../protocol/clock.js';
import { identityFromSeed } from '../../protocol/identity.js';
import {
  accessSignatureString, checkAccessTimestamp, hashClaims, readMailboxProof, readSignedMailboxRequest, signMailboxRequest, toMailboxProof,
  verifyAccessSignature,
} from '../../protocol/mailbox-access.js';
import { BoundedBindings } from '../../protocol/mailbox-bindings.js';
import { claimKeys } from '../../protocol/mailbox-keys.js';
import { checkForwardedProof, proofCanHaveClaimed, proofCovers } from '../../protocol/mailbox-proof.js';
import { NonceCache } from '../../protocol/nonce-cache.js';
import { K1_NODE_ID, K1_SEED, T0 } from './helpers.js';

const K1 = identityFromSeed(K1_SEED);
const K2 = identityFromSeed(Buffer.alloc(32, 7));
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const poll = (id = K1, o: Partial<Parameters<typeof signMailboxRequest>[2]> = {}) =>
  signMailboxRequest(id, 'poll', { claims: [{ type: 'requests', token: 'bob-token' }, { type: 'shared', token: 'room' }], timestamp: T0, nonce: 'n-1', sequence: 5, ...o });

describe('signed request vectors', () => {
  test('the signed string is the §2.4 payload string of dm_poll with hashed tokens', () => {
    expect(K1.nodeId).toBe(K1_NODE_ID);
    const s = accessSignatureString('dm_poll', K1_NODE_ID, 5, hashClaims([{ type: 'Requests ', token: ' bob-token ' }, { type: 'self' }]), T0, 'n-1');
    expect(s).toBe(
      `infonet/2|sb-testnet-0|dm_poll|${K1_NODE_ID}|5|{"mailbox_claims":[{"token_hash":"${sha('bob-token')}","type":"requests"},{"token_hash":"","type":"self"}],"nonce":"n-1","timestamp":${T0}}`,
    );
    const claim = accessSignatureString('dm_poll', K1_NODE_ID, 6, [], T0, 'n', ['a', 'b']);
    expect(claim.endsWith(`|{"mailbox_claims":[],"msg_ids":["a","b"],"nonce":"n","timestamp":${T0}}`)).toBe(true);
  });

  test('a signed request verifies; its proof (no tokens) verifies too', () => {
    const req = poll();
    expect(verifyAccessSignature(toMailboxProof(req), 'dm_poll')).toBeNull();
    const proof = toMailboxProof(req);
    expect(JSON.stringify(proof)).not.toContain('bob-token');
    expect(proof.claims).toEqual([{ type: 'requests', token_hash: sha('bob-token') }, { type: 'shared', token_hash: sha('room') }]);
    const back = readMailboxProof(JSON.parse(JSON.stringify(proof)));
    expect('code' in back).toBe(false);
    expect(verifyAccessSignature(back as typeof proof, 'dm_poll')).toBeNull();
    // dm_poll and dm_count are different signatures: a count cannot be replayed as a poll.
    expect(verifyAccessSignature(proof, 'dm_count')).toMatchObject({ reason: 'Invalid signature' });
  });

  test('another agent key, tampered claims, bad hex, bad sequence → typed rejections', () => {
    const req = poll();
    expect(verifyAccessSignature(toMailboxProof({ ...req, agent_id: K2.nodeId }), 'dm_poll')).toMatchObject({ code: 'node_id_mismatch', reason: 'node_id mismatch' });
    const other = poll(K2);
    expect(verifyAccessSignature(toMailboxProof({ ...other, agent_id: K1.nodeId }), 'dm_poll')).toMatchObject({ reason: 'node_id mismatch' });
    expect(verifyAccessSignature(toMailboxProof({ ...req, claims: [{ type: 'requests', token: 'other' }] }), 'dm_poll')).toMatchObject({ code: 'invalid_signature', reason: 'Invalid signature' });
    expect(verifyAccessSignature(toMailboxProof({ ...req, signature: 'zz' }), 'dm_poll')).toMatchObject({ reason: 'Invalid signature' });
    expect(verifyAccessSignature(toMailboxProof({ ...req, sequence: 0 }), 'dm_poll')).toMatchObject({ reason: 'Sequence must be a positive integer' });
  });

  test('shape checks: Missing nonce, long agent ids, too many claims, non-string tokens', () => {
    const req = poll() as unknown as Record<string, unknown>;
    expect(readSignedMailboxRequest({ ...req, nonce: '' }, 'poll')).toMatchObject({ code: 'nonce', reason: 'Missing nonce' });
    expect(readSignedMailboxRequest({ ...req, nonce: undefined }, 'poll')).toMatchObject({ reason: 'Missing nonce' });
    expect(readSignedMailboxRequest({ ...req, agent_id: 'x'.repeat(37) }, 'poll')).toMatchObject({ code: 'bad_input' });
    expect(readSignedMailboxRequest({ ...req, claims: Array(33).fill({ type: 'shared', token: 't' }) }, 'poll')).toMatchObject({ code: 'bad_input' });
    expect(readSignedMailboxRequest({ ...req, claims: [{ type: 'shared', token: { toString: 1 } }] }, 'poll')).toMatchObject({ code: 'bad_input' });
    expect(readSignedMailboxRequest({ ...req, signature: undefined }, 'poll')).toMatchObject({ reason: 'Missing signature fields' });
    expect(readSignedMailboxRequest('nope', 'poll')).toMatchObject({ code: 'bad_input' });
    expect(readSignedMailboxRequest({ ...req }, 'claim')).toMatchObject({ reason: 'msg_ids must be a list of strings' });
  });

  test('timestamp window is ±ttl', () => {
    expect(checkAccessTimestamp(T0, T0 + 300, 300)).toBeNull();
    expect(checkAccessTimestamp(T0, T0 - 300, 300)).toBeNull();
    expect(checkAccessTimestamp(T0, T0 + 301, 300)).toMatchObject({ code: 'stale_timestamp' });
    expect(checkAccessTimestamp(T0 + 301, T0, 300)).toMatchObject({ code: 'stale_timestamp' });
  });
});

describe('forwarded proofs (peer acks and pulls)', () => {
  const proof = toMailboxProof(poll());
  test('coverage: request mailbox of the agent itself, shared mailbox by token hash', () => {
    expect(proofCovers(proof, { delivery_class: 'request', recipient_id: K1.nodeId })).toBe(true);
    expect(proofCovers(proof, { delivery_class: 'request', recipient_id: K2.nodeId })).toBe(false);
    expect(proofCovers(proof, { delivery_class: 'shared', recipient_token_hash: sha('room') })).toBe(true);
    expect(proofCovers(proof, { delivery_class: 'shared', recipient_token_hash: sha('other-room') })).toBe(false);
    const sharedOnly = toMailboxProof(poll(K1, { claims: [{ type: 'shared', token: 'room' }] }));
    expect(proofCovers(sharedOnly, { delivery_class: 'request', recipient_id: K1.nodeId })).toBe(false);
  });

  test('freshness: younger than the message TTL, not from the future; messages stored after the poll are not covered', () => {
    expect(checkForwardedProof(proof, T0 + 3600, 3600)).toEqual(proof);
    expect(checkForwardedProof(proof, T0 + 3601, 3600)).toMatchObject({ code: 'stale_timestamp' });
    expect(checkForwardedProof(proof, T0 - 31, 3600)).toMatchObject({ code: 'stale_timestamp' });
    expect(checkForwardedProof(undefined, T0, 3600)).toMatchObject({ code: 'peer_auth' });
    expect(checkForwardedProof({ ...proof, signature: '00'.repeat(64) }, T0, 3600)).toMatchObject({ reason: 'Invalid signature' });
    expect(proofCanHaveClaimed(proof, 'm1', T0 - 100)).toBe(true);
    expect(proofCanHaveClaimed(proof, 'm1', T0 + 31)).toBe(false);
    const claim = toMailboxProof(signMailboxRequest(K1, 'claim', { claims: [], timestamp: T0, nonce: 'c', msg_ids: ['m1'] }));
    expect(proofCanHaveClaimed(claim, 'm1', T0)).toBe(true);
    expect(proofCanHaveClaimed(claim, 'm2', T0)).toBe(false);
  });
});

describe('nonce cache (§7.3 MESH_DM_NONCE_*)', () => {
  test('replay within the window is refused; after the window the nonce is forgotten', () => {
    const c = new NonceCache({ ttlS: 300, perAgentMax: 256, cacheMax: 4096 });
    expect(c.admit('a', 'n1', T0)).toBeNull();
    expect(c.admit('a', 'n1', T0 + 299)).toMatchObject({ code: 'nonce', reason: 'nonce replay detected' });
    expect(c.admit('b', 'n1', T0)).toBeNull(); // per agent
    expect(c.admit('a', '', T0)).toMatchObject({ reason: 'Missing nonce' });
    expect(c.admit('a', 'n1', T0 + 300)).toBeNull();
  });

  test('per-agent budget: the flooding agent is refused, others are not', () => {
    const c = new NonceCache({ ttlS: 300, perAgentMax: 3, cacheMax: 100 });
    for (let i = 0; i < 3; i++) expect(c.admit('a', `n${i}`, T0)).toBeNull();
    expect(c.admit('a', 'n3', T0)).toMatchObject({ reason: 'nonce cache at capacity' });
    expect(c.admit('b', 'n3', T0)).toBeNull();
    c.forget('a', 'n0');
    expect(c.admit('a', 'n3', T0)).toBeNull();
    expect(c.countFor('a')).toBe(3);
  });

  test('global budget: oldest entries of other agents are trimmed first; size never exceeds the cap', () => {
    const c = new NonceCache({ ttlS: 300, perAgentMax: 10, cacheMax: 5 });
    expect(c.admit('victim', 'v0', T0)).toBeNull();
    for (let i = 0; i < 4; i++) expect(c.admit(`spam${i}`, 's', T0 + 1)).toBeNull();
    expect(c.size).toBe(5);
    expect(c.admit('victim', 'v1', T0 + 2)).toBeNull(); // trims spam0 (oldest of OTHER agents), not v0
    expect(c.size).toBe(5);
    expect(c.admit('victim', 'v0', T0 + 2)).toMatchObject({ reason: 'nonce replay detected' });
    expect(c.countFor('spam0')).toBe(0);
    for (let i = 0; i < 1000; i++) c.admit(`x${i}`, 'n', T0 + 3);
    expect(c.size).toBe(5);
  });
});

test('bindings: LRU with a hard cap and a TTL; eviction loses no mail (the claim still opens SHA-256(token))', () => {
  const clock = manualClock(T0);
  const b = new BoundedBindings(clock, 100, 3600);
  for (let i = 0; i < 6000; i++) claimKeys('pepper', `agent-${i}`.padEnd(36, 'x'), [{ type: 'requests', token: `t${i}` }], clock(), b);
  expect(b.size).toBe(100);
  const keys = claimKeys('pepper', 'agent-0', [{ type: 'requests', token: 't0' }], clock(), b).keys;
  expect(keys).toContain(sha('t0'));
  expect(b.get('requests|agent-0')).toBe(sha('t0'));
  clock.advance(3600);
  expect(b.get('requests|agent-0')).toBeUndefined();
});

describe('dm_block requests', () => {
  test('sign/verify, binding, shape', () => {
    const r = signBlockRequest(K1, { action: 'block', sender_id: 'alice', timestamp: T0, nonce: 'b1' });
    const read = readSignedBlockRequest(JSON.parse(JSON.stringify(r)));
    expect('code' in read).toBe(false);
    expect(verifyBlockSignature(read as typeof r)).toBeNull();
    expect(verifyBlockSignature({ ...r, action: 'unblock' })).toMatchObject({ reason: 'Invalid signature' });
    expect(verifyBlockSignature({ ...r, agent_id: K2.nodeId })).toMatchObject({ reason: 'node_id mismatch' });
    expect(readSignedBlockRequest({ ...r, action: 'mute' })).toMatchObject({ code: 'bad_input' });
    expect(readSignedBlockRequest({ ...r, sender_id: 'x'.repeat(129) })).toMatchObject({ code: 'bad_input' });
    expect(readSignedBlockRequest({ ...r, nonce: '' })).toMatchObject({ reason: 'Missing nonce' });
  });

  test('block list bounds: per recipient and in total', () => {
    const l = new BlockList(2, 3);
    l.add('r1', 'ref:a');
    l.add('r1', 'ref:b');
    expect(l.canAdd('r1', 'ref:c')).toMatchObject({ code: 'bad_input' });
    expect(l.canAdd('r1', 'ref:a')).toBeNull();
    l.add('r2', 'ref:c');
    expect(l.canAdd('r3', 'ref:d')).toMatchObject({ reason: 'block list at capacity' });
    l.remove('r1', 'ref:a');
    expect(l.has('ref:a')).toBe(false);
    expect(l.canAdd('r3', 'ref:d')).toBeNull();
  });
});
