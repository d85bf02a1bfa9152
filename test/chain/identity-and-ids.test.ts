// §12 "Identities and encoding": T02, T05, T06, T07 (spec §1.2, §2.4, §2.5).
import { validateLocalAppend } from '../../protocol/append-rules.js';
import { emptyChainState } from '../../protocol/chain-state.js';
import { GENESIS_HASH } from '../../protocol/constants.js';
import { eventToWireJson, type ChainEvent } from '../../protocol/event.js';
import { computeEventId } from '../../protocol/event-id.js';
import { validateReceivedEvent, verifyEventSignature } from '../../protocol/validate-event.js';
import { A2_PAYLOAD, A2_SIGNATURE, A3_ID_FLOAT, A3_ID_INT, K1_LEGACY_NODE_ID, K1_NODE_ID } from '../fixtures/vectors.js';
import { K1, M, NodePool, T0, cloneEvent, ctxAt, rawEvent, rejection, signOver } from './helpers.js';

const pool = new NodePool();
afterAll(() => pool.cleanup());

/** The A.3 event (K1, message, seq 1, prev genesis) with a given timestamp and id. */
function a3Event(timestamp: number, eventId: string): ChainEvent {
  return {
    event_id: eventId,
    prev_hash: GENESIS_HASH,
    event_type: 'message',
    node_id: K1_NODE_ID,
    payload: { ...A2_PAYLOAD },
    timestamp,
    sequence: 1,
    signature: A2_SIGNATURE,
    network_id: 'sb-testnet-0',
    public_key: K1.publicKey,
    public_key_algo: 'Ed25519',
    protocol_version: 'infonet/2',
  };
}

describe('identities and event ids', () => {
  test('T02 legacy id rejected (append)', async () => {
    const legacySig = signOver(K1, 'message', 1, M('hello'), K1_LEGACY_NODE_ID);
    const input = {
      event_type: 'message', node_id: K1_LEGACY_NODE_ID, payload: M('hello'), sequence: 1, signature: legacySig,
      public_key: K1.publicKey, public_key_algo: 'Ed25519',
    };
    // Pure rule.
    const v = validateLocalAppend(emptyChainState(), input, ctxAt(T0));
    expect(v.kind).toBe('rejected');
    if (v.kind === 'rejected') expect(v.rejection.reason).toContain('node_id mismatch');
    // Through a real node with default config.
    const node = await pool.fresh();
    const r = await rejection(node.chain.append(input));
    expect(r.reason).toContain('node_id mismatch');
    expect(node.chain.length).toBe(0);
  });

  test('T02 legacy id rejected (ingest)', async () => {
    const ev = rawEvent({ id: K1, type: 'message', payload: M('hello'), sequence: 1, prevHash: GENESIS_HASH, timestamp: T0, nodeId: K1_LEGACY_NODE_ID });
    const node = await pool.fresh();
    const out = await node.chain.ingest([ev], 0);
    expect(out.accepted).toBe(0);
    expect(out.rejected).toHaveLength(1);
    expect(out.rejected[0].index).toBe(0);
    expect(out.rejected[0].reason).toContain('node_id mismatch');
    expect(node.chain.length).toBe(0);
  });

  test('T05 event id integer-timestamp fallback', async () => {
    // Sanity: the float form of the same event is A3_ID_FLOAT, so A3_ID_INT can only match through the fallback.
    expect(computeEventId(a3Event(1700000000, ''))).toBe(A3_ID_FLOAT);
    const legacy = a3Event(1700000000, A3_ID_INT);
    const node = await pool.fresh();
    const out = await node.chain.ingest([legacy], 0);
    expect(out).toMatchObject({ accepted: 1, duplicates: 0, rejected: [] });
    expect(node.chain.head).toBe(A3_ID_INT);
    // Re-served with the same integer literal (byte-identical), both from memory and from the store.
    const [stored] = await node.chain.readRange(0, 1);
    for (const ev of [out.events[0], stored]) {
      const wire = eventToWireJson(ev);
      expect(wire).toContain('"timestamp":1700000000}');
      expect(wire).not.toContain('1700000000.0');
      expect(wire).toContain(`"event_id":"${A3_ID_INT}"`);
    }
    // A restart keeps the form (the store re-hashes it on open).
    await node.chain.stop();
    await node.db.close();
    const reopened = await pool.open(node.dir, { clock: node.clock });
    const [again] = await reopened.chain.readRange(0, 1);
    expect(eventToWireJson(again)).toContain('"timestamp":1700000000}');
    expect(reopened.chain.head).toBe(A3_ID_INT);
    await reopened.close();
  });

  test('T05 float-form event id is preferred for an integral timestamp', async () => {
    const node = await pool.fresh();
    const out = await node.chain.ingest([a3Event(1700000000, A3_ID_FLOAT)], 0);
    expect(out.accepted).toBe(1);
    expect(eventToWireJson(out.events[0])).toContain('"timestamp":1700000000.0}');
  });

  test('T06 timestamp serialisation', async () => {
    const node = await pool.fresh(T0); // manual clock at an integral second
    const ev = await node.chain.appendLocal(K1, 'message', M('hello'));
    expect(ev.timestamp).toBe(T0);
    expect(eventToWireJson(ev)).toContain(`"timestamp":${T0}.0`);
    const [stored] = await node.chain.readRange(0, 1);
    expect(eventToWireJson(stored)).toContain(`"timestamp":${T0}.0`);
    // The id is the float-form id (rule 1: local timestamps are floats).
    expect(ev.event_id).toBe(computeEventId(ev));
    // A non-integral timestamp keeps its digits.
    node.clock.set(T0 + 1.25);
    const ev2 = await node.chain.appendLocal(K1, 'message', M('again'));
    expect(eventToWireJson(ev2)).toContain(`"timestamp":${T0 + 1}.25`);
  });

  test('§2.5 timestamps outside [0, 1e15) are rejected on ingest (tightening)', () => {
    const ctx = ctxAt(T0);
    for (const ts of [-1, 1e15, 2e15]) {
      const ev = rawEvent({ id: K1, type: 'message', payload: M('hello'), sequence: 1, prevHash: GENESIS_HASH, timestamp: T0 });
      const bad = { ...ev, timestamp: ts };
      bad.event_id = computeEventId(bad);
      expect(validateReceivedEvent(emptyChainState(), bad, ctx).kind).toBe('rejected');
    }
    // 0 and just below 1e15 are inside the range.
    for (const ts of [0, 1e15 - 1]) {
      const ev = rawEvent({ id: K1, type: 'message', payload: M('hello'), sequence: 1, prevHash: GENESIS_HASH, timestamp: ts });
      expect(validateReceivedEvent(emptyChainState(), ev, ctx).kind).toBe('accepted');
    }
  });

  test('T07 unsigned fields', () => {
    const ctx = ctxAt(T0);
    const ev = rawEvent({ id: K1, type: 'message', payload: M('hello'), sequence: 1, prevHash: GENESIS_HASH, timestamp: T0 });
    expect(validateReceivedEvent(emptyChainState(), ev, ctx).kind).toBe('accepted');

    const moved = cloneEvent(ev);
    moved.timestamp = T0 + 42.5;
    // Timestamp is not signed: the signature still verifies.
    expect(verifyEventSignature(moved)).toBe(true);
    // With the old id kept, the id no longer matches.
    const stale = validateReceivedEvent(emptyChainState(), moved, ctx);
    expect(stale.kind).toBe('rejected');
    if (stale.kind === 'rejected') expect(stale.rejection.reason).toContain('event_id mismatch');
    // With the id recomputed, the event is valid again (and has a different id).
    moved.event_id = computeEventId(moved);
    expect(moved.event_id).not.toBe(ev.event_id);
    expect(validateReceivedEvent(emptyChainState(), moved, ctx).kind).toBe('accepted');
  });
});
