// §12 "DM spool": T26–T37 (spec §5, §6, §1.3).
import { createHash, randomBytes } from 'node:crypto';
import { canonicalJson } from '../../protocol/canonical-json.js';
import { validateChain } from '../../protocol/chain-validator.js';
import { normalizeDmPayload } from '../../protocol/dm-payload.js';
import { signAppend } from '../../protocol/local-sign.js';
import { D, K1, NodePool, T0, b64, ctxAt, newIdentity, rawEvent, rejection } from './helpers.js';

const pool = new NodePool();
afterAll(() => pool.cleanup());

const dmKey = (nodeId: string): string => `${nodeId}|dm_message`;

describe('DM spool', () => {
  test('T26 DM spool 2 per recipient (seed test)', async () => {
    const node = await pool.fresh();
    const [s1, s2, s3] = [newIdentity(), newIdentity(), newIdentity()];
    await node.chain.append(signAppend(s1, 'dm_message', D('recipient-a', 'dm-1', T0), 1));
    await node.chain.append(signAppend(s2, 'dm_message', D('recipient-a', 'dm-2', T0), 1));
    const view = node.chain.ledger.view;
    expect(view.sequenceDomains.get(dmKey(s1.nodeId))).toBe(1);
    expect(view.sequenceDomains.get(dmKey(s2.nodeId))).toBe(1);
    const r = await rejection(node.chain.append(signAppend(s3, 'dm_message', D('recipient-a', 'dm-3', T0), 1)));
    expect(r.reason).toContain('spool full');
    expect(r.reason).toContain('DM hashchain spool full for recipient');
    expect(node.chain.length).toBe(2);
    expect(view.sequenceDomains.has(dmKey(s3.nodeId))).toBe(false);
    expect(validateChain(await node.chain.readRange(0, 2), ctxAt(T0)).valid).toBe(true);
  });

  test('T27 DM spool 1 per pair (seed test)', async () => {
    const node = await pool.fresh();
    await node.chain.append(signAppend(K1, 'dm_message', D('recipient-a', 'dm-1', T0), 1));
    const r = await rejection(node.chain.append(signAppend(K1, 'dm_message', D('recipient-a', 'dm-2', T0), 2)));
    expect(r.reason).toContain('sender spool full');
    expect(r.reason).toContain('DM hashchain sender spool full for recipient');
    expect(node.chain.length).toBe(1);
    // A different recipient is a different mailbox.
    await node.chain.append(signAppend(K1, 'dm_message', D('recipient-b', 'dm-3', T0), 2));
    expect(node.chain.length).toBe(2);
  });

  test('T28 DM TTL', async () => {
    const node = await pool.fresh(T0);
    const [s1, s2, s3, s4] = [newIdentity(), newIdentity(), newIdentity(), newIdentity()];
    await node.chain.append(signAppend(s1, 'dm_message', D('recipient-a', 'dm-1', T0), 1));
    await node.chain.append(signAppend(s2, 'dm_message', D('recipient-a', 'dm-2', T0), 1));
    // Still inside the TTL: both old entries count.
    node.clock.set(T0 + 3599);
    const early = await rejection(node.chain.append(signAppend(s3, 'dm_message', D('recipient-a', 'dm-3', T0 + 3599), 1)));
    expect(early.reason).toContain('spool full');
    // Past the TTL: they no longer count.
    node.clock.set(T0 + 3601);
    const ev = await node.chain.append(signAppend(s3, 'dm_message', D('recipient-a', 'dm-3', T0 + 3601), 1));
    expect(ev.payload.timestamp).toBe(T0 + 3601);
    // [tightening] a back-dated payload timestamp is refused on local append.
    const backdated = await rejection(node.chain.append(signAppend(s4, 'dm_message', D('recipient-b', 'dm-4', T0), 1)));
    expect(backdated.reason).toContain('DM spool timestamp outside window');
    const zero = await rejection(node.chain.append(signAppend(s4, 'dm_message', { ...D('recipient-b', 'dm-4', T0), timestamp: 0 }, 1)));
    expect(zero.reason).toContain('DM spool timestamp outside window');
    const future = await rejection(node.chain.append(signAppend(s4, 'dm_message', D('recipient-b', 'dm-4', T0 + 3601 + 301), 1)));
    expect(future.reason).toContain('DM spool timestamp outside window');
    expect(node.chain.length).toBe(3);
  });

  test('T28 old DMs stay ingestible and old entries do not count on ingest', async () => {
    // Ingest/fork never apply the back-dating window; a stale DM is legitimate history.
    const now = T0 + 7200;
    const node = await pool.fresh(now);
    const [s1, s2, s3, s4] = [newIdentity(), newIdentity(), newIdentity(), newIdentity()];
    const dm = (id: typeof s1, msgId: string, ts: number, prev: string) =>
      rawEvent({ id, type: 'dm_message', payload: normalizeDmPayload(D('recipient-a', msgId, ts)), sequence: 1, prevHash: prev, timestamp: ts });
    const old = dm(s1, 'dm-old', T0, node.chain.head);
    const a = dm(s2, 'dm-a', now, old.event_id);
    const b = dm(s3, 'dm-b', now, a.event_id);
    const out = await node.chain.ingest([old, a, b], 0);
    expect(out.rejected).toEqual([]);
    expect(out.accepted).toBe(3);
    // The caps apply on ingest too: the two live entries fill the mailbox.
    const c = dm(s4, 'dm-c', now, b.event_id);
    const full = await node.chain.ingest([c], 0);
    expect(full.rejected[0].reason).toContain('DM hashchain spool full for recipient');
  });

  test('T28 payload timestamp 0 always counts (faithful counting rule, ingest)', async () => {
    const node = await pool.fresh(T0);
    const ids = [newIdentity(), newIdentity(), newIdentity()];
    let prev = node.chain.head;
    const events = ids.map((id, i) => {
      const ev = rawEvent({ id, type: 'dm_message', payload: normalizeDmPayload({ ...D('recipient-a', `dm-${i}`, 0), timestamp: 0 }), sequence: 1, prevHash: prev, timestamp: T0 });
      prev = ev.event_id;
      return ev;
    });
    const out = await node.chain.ingest(events, 0);
    expect(out.accepted).toBe(2);
    expect(out.rejected).toEqual([expect.objectContaining({ index: 2, reason: expect.stringContaining('DM hashchain spool full for recipient') })]);
  });

  test('T29 DM spool keys by class', async () => {
    const node = await pool.fresh();
    const [s1, s2, s3] = [newIdentity(), newIdentity(), newIdentity()];
    await node.chain.append(signAppend(s1, 'dm_message', D('recipient-a', 'dm-1', T0), 1));
    await node.chain.append(signAppend(s2, 'dm_message', D('recipient-a', 'dm-2', T0), 1));
    const shared = { ...D('recipient-a', 'dm-3', T0), delivery_class: 'shared', recipient_token: 'tok' };
    const ev = await node.chain.append(signAppend(s3, 'dm_message', shared, 1));
    expect(ev.payload.delivery_class).toBe('shared');
    expect(node.chain.length).toBe(3);
  });

  test('T30 DM rejects plaintext (seed test)', async () => {
    const node = await pool.fresh();
    for (const [k, v] of [['message', 'plaintext'], ['plaintext', 'x'], ['_local_plaintext', 'x'], ['_local_reply_to', 'x']] as const) {
      const r = await rejection(node.chain.append(signAppend(K1, 'dm_message', { ...D('recipient-a', 'dm-1', T0), [k]: v }, 1)));
      expect(r.reason).toContain('plaintext');
      expect(r.reason).toContain('private DM ledger payload must not contain plaintext');
    }
    expect(node.chain.length).toBe(0);
  });

  test('T31 DM requires private_strong', async () => {
    const node = await pool.fresh();
    const r = await rejection(node.chain.append(signAppend(K1, 'dm_message', { ...D('recipient-a', 'dm-1', T0), transport_lock: 'private' }, 1)));
    expect(r.reason).toContain('private_strong');
    expect(r.reason).toContain('DM hashchain spool requires private_strong transport_lock');
    const { transport_lock: _drop, ...noLock } = D('recipient-a', 'dm-1', T0);
    const r2 = await rejection(node.chain.append(signAppend(K1, 'dm_message', noLock, 1)));
    expect(r2.reason).toContain('private_strong');
    // Ingested events: absent lock, and a legacy gate-style lock, are both refused.
    for (const payload of [normalizeDmPayload(noLock), normalizeDmPayload({ ...noLock, transport_lock: 'onion' })]) {
      const ev = rawEvent({ id: K1, type: 'dm_message', payload, sequence: 1, prevHash: node.chain.head, timestamp: T0 });
      const out = await node.chain.ingest([ev]);
      expect(out.accepted).toBe(0);
      expect(out.rejected[0].reason).toContain('DM hashchain spool requires private_strong transport_lock');
    }
    expect(node.chain.length).toBe(0);
  });

  test('T32 DM non-sealed ciphertext (seed test)', async () => {
    const node = await pool.fresh();
    const r = await rejection(node.chain.append(signAppend(K1, 'dm_message', { ...D('recipient-a', 'dm-1', T0), ciphertext: 'not sealed plaintext' }, 1)));
    expect(r.reason).toContain('sealed bytes');
    expect(node.chain.length).toBe(0);
  });

  test('T33 DM x3dh1 prefix exemption', async () => {
    const node = await pool.fresh();
    const envelope = canonicalJson({ ct: b64(Buffer.alloc(32)), h: { ek_pub: 'd29ybGQ=', ik_pub: 'aGVsbG8=', otk_id: 0, spk_id: 1 } });
    const ciphertext = 'x3dh1:' + b64(envelope);
    const ev = await node.chain.append(signAppend(K1, 'dm_message', { ...D('recipient-a', 'dm-1', T0), ciphertext }, 1));
    expect(String(ev.payload.ciphertext).startsWith('x3dh1:')).toBe(true);
    const [stored] = await node.chain.readRange(0, 1);
    expect(stored.payload.ciphertext).toBe(ciphertext);
  });

  test('T34 DM plaintext-shape heuristic', async () => {
    const node = await pool.fresh();
    const plain = await rejection(node.chain.append(signAppend(K1, 'dm_message', { ...D('recipient-a', 'dm-1', T0), ciphertext: b64('this is a plaintext sentence, forty chars') }, 1)));
    expect(plain.reason).toContain('ciphertext looks like encoded plaintext');
    const zeros = await rejection(node.chain.append(signAppend(K1, 'dm_message', { ...D('recipient-a', 'dm-1', T0), ciphertext: b64(Buffer.alloc(32)) }, 1)));
    expect(zeros.reason).toContain('ciphertext entropy is too low for sealed bytes');
    expect(node.chain.length).toBe(0);
    const hash = createHash('sha256').update('x').digest();
    await node.chain.append(signAppend(K1, 'dm_message', { ...D('recipient-a', 'dm-1', T0), ciphertext: b64(hash) }, 1));
    expect(node.chain.length).toBe(1);
  });

  test('T35 DM delivery class', async () => {
    const node = await pool.fresh();
    const shared = await rejection(node.chain.append(signAppend(K1, 'dm_message', { ...D('recipient-a', 'dm-1', T0), delivery_class: 'shared', recipient_token: '' }, 1)));
    expect(shared.reason).toContain('recipient_token required for shared delivery');
    const broadcast = await rejection(node.chain.append(signAppend(K1, 'dm_message', { ...D('recipient-a', 'dm-1', T0), delivery_class: 'broadcast' }, 1)));
    expect(broadcast.reason).toContain('Invalid delivery_class');
    expect(node.chain.length).toBe(0);
  });

  test('T36 DM payload size', async () => {
    const node = await pool.fresh();
    const ciphertext = b64(randomBytes(3200)); // 4268 base64 chars, a valid sealed blob
    const payload = { ...D('recipient-a', 'dm-1', T0), ciphertext };
    expect(Buffer.byteLength(canonicalJson(normalizeDmPayload(payload)))).toBeGreaterThan(4096);
    const r = await rejection(node.chain.append(signAppend(K1, 'dm_message', payload, 1)));
    expect(r.reason).toContain('payload exceeds max size');
    expect(node.chain.length).toBe(0);
  });

  test('T37 DM via revoked key', async () => {
    const node = await pool.fresh(T0);
    const revoke = {
      revoked_public_key: K1.publicKey, revoked_public_key_algo: 'Ed25519', revoked_at: T0, grace_until: T0 + 100, reason: 'key lost',
    };
    await node.chain.append(signAppend(K1, 'key_revoke', revoke, 1));
    // During the grace window the key still works.
    node.clock.set(T0 + 50);
    await node.chain.append(signAppend(K1, 'dm_message', D('recipient-a', 'dm-1', T0 + 50), 1));
    // After grace_until it is revoked (different recipient so the spool caps are not what fails).
    node.clock.set(T0 + 101);
    const r = await rejection(node.chain.append(signAppend(K1, 'dm_message', D('recipient-b', 'dm-2', T0 + 101), 2)));
    expect(r.reason).toContain('public key is revoked');
    expect(node.chain.length).toBe(2);
    // The same verdict on ingest: a DM by the revoked key after the grace window is refused.
    const later = rawEvent({ id: K1, type: 'dm_message', payload: normalizeDmPayload(D('recipient-c', 'dm-3', T0 + 101)), sequence: 3, prevHash: node.chain.head, timestamp: T0 + 101 });
    const ingested = await node.chain.ingest([later]);
    expect(ingested.rejected[0].reason).toContain('public key is revoked');
    // A revocation whose grace_until is already past at append time.
    const node2 = await pool.fresh(T0 + 1000);
    await node2.chain.append(signAppend(K1, 'key_revoke', revoke, 1));
    const r2 = await rejection(node2.chain.append(signAppend(K1, 'dm_message', D('recipient-a', 'dm-1', T0 + 1000), 1)));
    expect(r2.reason).toContain('public key is revoked');
    // key_revoke itself is still allowed for a revoked key.
    await node2.chain.append(signAppend(K1, 'key_revoke', { ...revoke, reason: 'refresh' }, 2));
    expect(node2.chain.length).toBe(2);
  });
});
