// §9.2 ingest pipeline and §9.3 fork application: T71, T72, T69-style small reset, result shape.
import { validateChain } from '../../protocol/chain-validator.js';
import { GENESIS_HASH } from '../../protocol/constants.js';
import { normalizeDmPayload } from '../../protocol/dm-payload.js';
import type { ChainEvent } from '../../protocol/event.js';
import type { Identity } from '../../protocol/identity.js';
import { signAppend } from '../../protocol/local-sign.js';
import { D, G, K1, M, NodePool, ScratchChain, T0, cloneEvent, ctxAt, newIdentity, rawEvent, signOver } from './helpers.js';

const pool = new NodePool();
afterAll(() => pool.cleanup());

/** A node whose chain holds `n` public messages by K1 (seq 1..n). */
async function nodeWithMessages(n: number) {
  const node = await pool.fresh();
  for (let i = 0; i < n; i++) await node.chain.appendLocal(K1, 'message', M(`local-${i}`));
  return node;
}

/** `n` public messages by `author`, linked on top of `prefix` (the fork candidate). */
function branch(prefix: readonly ChainEvent[], author: Identity, n: number, tag = 'fork'): ChainEvent[] {
  const s = new ScratchChain(ctxAt(T0), prefix);
  const out: ChainEvent[] = [];
  for (let i = 0; i < n; i++) out.push(s.append(signAppend(author, 'message', M(`${tag}-${i}`), i + 1, T0 + 10 + i)));
  return out;
}

/** Three linked valid events from a fresh scratch chain (message, gate, DM by K2). */
function threeEvents(author: Identity): ChainEvent[] {
  const s = new ScratchChain(ctxAt(T0));
  s.append(signAppend(author, 'message', M('one'), 1, T0));
  s.append(signAppend(author, 'gate_message', G(3), 1, T0 + 1));
  s.append(signAppend(author, 'dm_message', D('recipient-a', 'dm-1', T0), 1, T0 + 2));
  return s.events;
}

describe('ingest pipeline (§9.2)', () => {
  test('ingest result shape {accepted, duplicates, rejected:[{index, reason}]} and duplicates counting', async () => {
    const node = await pool.fresh();
    const batch = threeEvents(newIdentity());
    const first = await node.chain.ingest(batch);
    expect(first).toEqual(expect.objectContaining({ accepted: 3, duplicates: 0, rejected: [] }));
    expect(node.chain.length).toBe(3);
    expect(node.chain.head).toBe(batch[2].event_id);
    // The same batch again: every event is a duplicate, nothing rejected, nothing appended.
    const again = await node.chain.ingest(batch);
    expect(again).toEqual(expect.objectContaining({ accepted: 0, duplicates: 3, rejected: [] }));
    expect(node.chain.length).toBe(3);
    // Mixed: duplicates, then junk, then a new valid event.
    const next = new ScratchChain(ctxAt(T0), batch).append(signAppend(K1, 'message', M('four'), 1, T0 + 3));
    const mixed = await node.chain.ingest([batch[0], batch[1], 'not an event', next]);
    expect(mixed.accepted).toBe(1);
    expect(mixed.duplicates).toBe(2);
    expect(mixed.rejected).toEqual([expect.objectContaining({ index: 2, reason: 'Event is not an object' })]);
    for (const r of mixed.rejected) {
      expect(typeof r.index).toBe('number');
      expect(typeof r.reason).toBe('string');
    }
    expect(node.chain.length).toBe(4);
  });

  test('T71 ingest rejects and stops chain', async () => {
    const node = await pool.fresh();
    const author = newIdentity();
    const batch = threeEvents(author).map(cloneEvent);
    // A well-formed signature over something else: event_id does not cover the signature.
    batch[1].signature = signOver(author, 'gate_message', 1, { something: 'else' });
    const out = await node.chain.ingest(batch);
    expect(out.accepted).toBe(1);
    expect(out.duplicates).toBe(0);
    expect(out.rejected).toHaveLength(2);
    expect(out.rejected[0].index).toBe(1);
    expect(out.rejected[0].reason).toContain('Invalid signature');
    expect(out.rejected[1].index).toBe(2);
    expect(out.rejected[1].reason).toContain('prev_hash does not match head');
    expect(node.chain.length).toBe(1);
  });

  test('§9.2 reasons for malformed events (Appendix C)', async () => {
    const node = await pool.fresh(T0);
    const good = rawEvent({ id: K1, type: 'message', payload: M('x'), sequence: 1, prevHash: GENESIS_HASH, timestamp: T0 });
    const cases: Array<[unknown, string]> = [
      [42, 'Event is not an object'],
      [{ ...good, event_type: 'bogus' }, 'Unsupported event_type'],
      [{ ...good, event_id: undefined }, 'Missing event_id or prev_hash'],
      [{ ...good, prev_hash: 'f'.repeat(64) }, 'prev_hash does not match head'],
      [{ ...good, network_id: 'other-net' }, 'network_id mismatch'],
      [{ ...good, sequence: 0 }, 'Invalid sequence'],
      [{ ...good, protocol_version: 'infonet/1' }, 'Unsupported protocol_version'],
      [{ ...good, signature: '' }, 'Missing signature fields'],
      [{ ...good, public_key_algo: 'RSA' }, 'Unsupported public_key_algo'],
      [{ ...good, event_id: 'a'.repeat(64) }, 'event_id mismatch'],
    ];
    for (const [ev, reason] of cases) {
      const out = await node.chain.ingest([ev], 0);
      expect(out.rejected).toEqual([expect.objectContaining({ index: 0, reason: expect.stringContaining(reason) })]);
    }
    // Freshness (§3.4): default window 86400 s.
    const stale = rawEvent({ id: K1, type: 'message', payload: M('x'), sequence: 1, prevHash: GENESIS_HASH, timestamp: T0 - 86401 });
    expect((await node.chain.ingest([stale])).rejected[0].reason).toContain('Event timestamp outside freshness window');
    expect((await node.chain.ingest([stale], 0)).accepted).toBe(1);
    // Replay in the public domain (early check).
    const replay = rawEvent({ id: K1, type: 'message', payload: M('y'), sequence: 1, prevHash: stale.event_id, timestamp: T0 });
    expect((await node.chain.ingest([replay], 0)).rejected[0].reason).toContain('Replay detected');
    // message without ephemeral: Appendix D normalisation adds `ephemeral: false`, so the raw payload is
    // not a fixed point and fails before the §9.2 step 11 check could ("Missing ephemeral flag").
    const { ephemeral: _e, ...noEphemeral } = M('z');
    const noEph = rawEvent({ id: K1, type: 'message', payload: noEphemeral, sequence: 2, prevHash: stale.event_id, timestamp: T0 });
    expect((await node.chain.ingest([noEph], 0)).rejected[0].reason).toBe('Payload is not normalized');
    expect(node.chain.length).toBe(1);
  });
});

describe('fork application (§9.3)', () => {
  test('T72 fork rules: insufficient quorum', async () => {
    const node = await nodeWithMessages(3);
    const prefix = await node.chain.readRange(0, 1);
    const fork = branch(prefix, newIdentity(), 3);
    const r = await node.chain.applyFork(fork, fork[2].event_id, 1, 1);
    expect(r).toEqual({ ok: false, reason: 'insufficient quorum' });
    expect((await node.chain.applyFork(fork, fork[2].event_id, 2, 3)).reason).toBe('insufficient quorum');
    expect(node.chain.length).toBe(3);
  });

  test('T72 fork rules: chain lock prevents reorg (ancestor 7 below head), 6 below is allowed', async () => {
    const node = await nodeWithMessages(8); // heights 0..7
    const events = await node.chain.readRange(0, 8);
    const tooDeep = branch(events.slice(0, 1), newIdentity(), 8);
    const r = await node.chain.applyFork(tooDeep, tooDeep[7].event_id, 2, 2);
    expect(r).toEqual({ ok: false, reason: 'chain lock prevents reorg' });
    expect(node.chain.head).toBe(events[7].event_id);
    const ok = branch(events.slice(0, 2), newIdentity(), 7);
    expect(await node.chain.applyFork(ok, ok[6].event_id, 2, 2)).toEqual({ ok: true, reason: 'applied' });
    expect(node.chain.length).toBe(9);
    expect(node.chain.head).toBe(ok[6].event_id);
    // The replaced tail is gone from the index; the chain validates.
    expect(node.chain.heightOf(events[2].event_id)).toBeUndefined();
    expect(validateChain(await node.chain.readRange(0, 9), ctxAt(T0)).valid).toBe(true);
  });

  test('T72 fork rules: equal-length fork is not longer', async () => {
    const node = await nodeWithMessages(3);
    const prefix = await node.chain.readRange(0, 1);
    const fork = branch(prefix, newIdentity(), 2);
    expect(await node.chain.applyFork(fork, fork[1].event_id, 2, 2)).toEqual({ ok: false, reason: 'fork not longer' });
    expect(node.chain.length).toBe(3);
  });

  test('T72 fork rules: structural reasons', async () => {
    const node = await nodeWithMessages(3);
    const prefix = await node.chain.readRange(0, 1);
    const fork = branch(prefix, newIdentity(), 3);
    expect((await node.chain.applyFork([], 'x', 2, 2)).reason).toBe('empty fork');
    expect((await node.chain.applyFork([{ ...fork[0], prev_hash: undefined }], fork[0].event_id, 2, 2)).reason).toBe('missing prev_hash');
    const orphan = branch([], newIdentity(), 1).map((e) => ({ ...e, prev_hash: 'e'.repeat(64) }));
    expect((await node.chain.applyFork(orphan, orphan[0].event_id, 2, 2)).reason).toBe('unknown ancestor');
    expect((await node.chain.applyFork([fork[0], fork[2]], fork[2].event_id, 2, 2)).reason).toBe('non-contiguous fork');
    expect((await node.chain.applyFork(fork, fork[1].event_id, 2, 2)).reason).toBe('head_hash mismatch');
    expect(node.chain.length).toBe(3);
  });

  test('T72 fork rules: a forked DM event with a plaintext key is rejected (tightening)', async () => {
    const node = await nodeWithMessages(1);
    const author = newIdentity();
    const payload = { ...normalizeDmPayload(D('recipient-a', 'dm-1', T0)), plaintext: 'secret words' };
    // Signed over the raw payload (as a leaky client would), and over the normalised one.
    for (const signed of [payload, normalizeDmPayload(payload)]) {
      const ev = rawEvent({ id: author, type: 'dm_message', payload, signed, sequence: 1, prevHash: node.chain.head, timestamp: T0 });
      const r = await node.chain.applyFork([ev], ev.event_id, 2, 2);
      expect(r.ok).toBe(false);
      expect(r.reason).toMatch(/normalized|plaintext/);
    }
    expect(node.chain.length).toBe(1);
    const stored = await node.chain.readRange(0, 5);
    expect(stored.some((e) => e.event_type === 'dm_message')).toBe(false);
  });

  test('T72 fork rules: spool caps apply on fork (tightening §5.5.5)', async () => {
    const node = await nodeWithMessages(1);
    const prefix = await node.chain.readRange(0, 1);
    let prev = prefix[0].event_id;
    const fork = [newIdentity(), newIdentity(), newIdentity()].map((id, i) => {
      const ev = rawEvent({ id, type: 'dm_message', payload: normalizeDmPayload(D('recipient-a', `dm-${i}`, T0)), sequence: 1, prevHash: prev, timestamp: T0 });
      prev = ev.event_id;
      return ev;
    });
    const r = await node.chain.applyFork(fork, fork[2].event_id, 2, 2);
    expect(r.ok).toBe(false);
    expect(r.reason).toContain('spool full');
    expect(node.chain.length).toBe(1);
  });

  test('T72 fork rules: per-event reasons use the fork dialect (sequence replay, invalid signature)', async () => {
    const node = await nodeWithMessages(1);
    const prefix = await node.chain.readRange(0, 1);
    // K1 already used public seq 1 in the prefix.
    const replay = rawEvent({ id: K1, type: 'message', payload: M('again'), sequence: 1, prevHash: prefix[0].event_id, timestamp: T0 });
    expect((await node.chain.applyFork([replay], replay.event_id, 2, 2)).reason).toBe('sequence replay');
    const author = newIdentity();
    const badSig = { ...rawEvent({ id: author, type: 'message', payload: M('x'), sequence: 1, prevHash: prefix[0].event_id, timestamp: T0 }) };
    badSig.signature = signOver(author, 'message', 1, M('y'));
    expect((await node.chain.applyFork([badSig], badSig.event_id, 2, 2)).reason).toBe('invalid signature');
    expect(node.chain.length).toBe(1);
  });

  test('T72 fork rules: sequences after an applied fork are recomputed from the prefix per domain', async () => {
    const node = await pool.fresh();
    await node.chain.appendLocal(K1, 'message', M('base'));
    await node.chain.appendLocal(K1, 'gate_message', G(1)); // gate seq 1, will be replaced
    await node.chain.appendLocal(K1, 'dm_message', D('recipient-a', 'dm-1', T0)); // DM seq 1, will be replaced
    const prefix = await node.chain.readRange(0, 1);
    const fork = branch(prefix, newIdentity(), 3);
    expect(await node.chain.applyFork(fork, fork[2].event_id, 2, 2)).toEqual({ ok: true, reason: 'applied' });
    const view = node.chain.ledger.view;
    // Gate domain: rebuilt from the chain only (§3.2.3).
    expect(view.sequenceDomains.has(`${K1.nodeId}|gate_message`)).toBe(false);
    // DM domain: max(persisted, chain) (§3.2.4), so the dropped DM's sequence stays used.
    expect(view.sequenceDomains.get(`${K1.nodeId}|dm_message`)).toBe(1);
    expect(view.nodeSequences.get(K1.nodeId)).toBe(1);
    // K1 may now re-use gate seq 1, but not DM seq 1.
    await node.chain.appendLocal(K1, 'gate_message', G(1), 1);
    await expect(node.chain.appendLocal(K1, 'dm_message', D('recipient-b', 'dm-2', T0), 1)).rejects.toMatchObject({ reason: expect.stringContaining('Replay detected: sequence 1 <= last 1') });
    expect(node.chain.length).toBe(5);
  });

  test('T69 small fork auto-reset (resetToGenesis keeps signed-write domains, then rebuilds from the peer chain)', async () => {
    const node = await nodeWithMessages(3);
    await node.chain.checkSignedWrite(K1.nodeId, 4, 'dm_send');
    await node.chain.resetToGenesis();
    expect(node.chain.length).toBe(0);
    expect(node.chain.head).toBe(GENESIS_HASH);
    expect(await node.chain.readRange(0, 10)).toEqual([]);
    const view = node.chain.ledger.view;
    expect(view.nodeSequences.size).toBe(0);
    expect(view.eventIndex.size).toBe(0);
    // [tightening §3.2.7] the dm_send replay window is not re-opened.
    expect(view.sequenceDomains.get(`${K1.nodeId}|dm_send`)).toBe(4);
    await expect(node.chain.checkSignedWrite(K1.nodeId, 4, 'dm_send')).rejects.toMatchObject({ reason: expect.stringContaining('Replay detected') });
    // The peer's chain is ingested from genesis.
    const peer = threeEvents(newIdentity());
    const out = await node.chain.ingest(peer);
    expect(out).toMatchObject({ accepted: 3, duplicates: 0, rejected: [] });
    expect(node.chain.head).toBe(peer[2].event_id);
    // And survives a restart (the store was truncated, not just memory).
    await node.chain.stop();
    await node.db.close();
    const reopened = await pool.open(node.dir, { clock: node.clock });
    expect(reopened.chain.length).toBe(3);
    expect(reopened.chain.head).toBe(peer[2].event_id);
    expect(reopened.chain.ledger.view.sequenceDomains.get(`${K1.nodeId}|dm_send`)).toBe(4);
    await reopened.close();
  });
});
