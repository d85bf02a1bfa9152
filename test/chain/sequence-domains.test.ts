// §12 "Sequence domains": T08–T13 (spec §3.1, §3.2).
import { validateLocalAppend } from '../../protocol/append-rules.js';
import { emptyChainState, rebuildChainState, signedWriteDomains, dmDomains } from '../../protocol/chain-state.js';
import { validateAndSetSignedWriteSequence } from '../../protocol/sequence-domains.js';
import { signAppend } from '../../protocol/local-sign.js';
import { D, G, K1, M, NodePool, ScratchChain, T0, ctxAt, rejection } from './helpers.js';

const pool = new NodePool();
afterAll(() => pool.cleanup());

const gateKey = `${K1.nodeId}|gate_message`;
const dmKey = `${K1.nodeId}|dm_message`;

describe('sequence domains', () => {
  test('T08 gate domain independent of public', async () => {
    const node = await pool.fresh();
    await node.chain.append(signAppend(K1, 'message', M('hello'), 1));
    const gate = await node.chain.append(signAppend(K1, 'gate_message', G(3), 1));
    expect(gate.event_type).toBe('gate_message');
    const view = node.chain.ledger.view;
    expect(view.nodeSequences.get(K1.nodeId)).toBe(1);
    expect(view.sequenceDomains.get(gateKey)).toBe(1);
    expect(node.chain.length).toBe(2);
  });

  test('T08 public after gate at the same sequence is accepted too (vice versa)', async () => {
    const node = await pool.fresh();
    await node.chain.append(signAppend(K1, 'gate_message', G(3), 1));
    await node.chain.append(signAppend(K1, 'message', M('hello'), 1));
    const view = node.chain.ledger.view;
    expect(view.nodeSequences.get(K1.nodeId)).toBe(1);
    expect(view.sequenceDomains.get(gateKey)).toBe(1);
  });

  test('T09 DM cannot replay-block public', async () => {
    const node = await pool.fresh();
    await node.chain.append(signAppend(K1, 'dm_message', D('recipient-a', 'dm-1', T0), 1));
    const msg = await node.chain.append(signAppend(K1, 'message', M('hello'), 1));
    expect(msg.sequence).toBe(1);
    const view = node.chain.ledger.view;
    expect(view.nodeSequences.get(K1.nodeId)).toBe(1);
    expect(view.sequenceDomains.get(dmKey)).toBe(1);
    // Posting in one domain never changes another domain's counter.
    expect(view.sequenceDomains.has(gateKey)).toBe(false);
  });

  test('T10 gate replay', async () => {
    const node = await pool.fresh();
    await node.chain.append(signAppend(K1, 'gate_message', G(3), 2));
    const same = await rejection(node.chain.append(signAppend(K1, 'gate_message', G(4), 2)));
    expect(same.reason).toContain('Replay detected: sequence 2 <= last 2');
    const lower = await rejection(node.chain.append(signAppend(K1, 'gate_message', G(4), 1)));
    expect(lower.reason).toContain('Replay detected: sequence 1 <= last 2');
    expect(node.chain.length).toBe(1);
    expect(node.chain.ledger.view.sequenceDomains.get(gateKey)).toBe(2);
  });

  test('T11 private signed-write domains', () => {
    const tables = emptyChainState();
    expect(validateAndSetSignedWriteSequence(tables, 'node-a', 1, 'dm_poll')).toBeNull();
    expect(validateAndSetSignedWriteSequence(tables, 'node-a', 1, 'dm_send')).toBeNull();
    const again = validateAndSetSignedWriteSequence(tables, 'node-a', 1, 'dm_poll');
    expect(again?.reason).toContain('Replay detected');
    expect(tables.nodeSequences.size).toBe(0);
    expect(tables.sequenceDomains.get('node-a|dm_poll')).toBe(1);
    expect(tables.sequenceDomains.get('node-a|dm_send')).toBe(1);
    // Domain names are lower-cased; sequence must be positive.
    expect(validateAndSetSignedWriteSequence(tables, 'node-a', 2, 'DM_POLL')).toBeNull();
    expect(tables.sequenceDomains.get('node-a|dm_poll')).toBe(2);
    expect(validateAndSetSignedWriteSequence(tables, 'node-a', 0, 'dm_count')?.reason).toContain('Sequence must be a positive integer');
  });

  test('T11 private signed-write domains through the chain actor', async () => {
    const node = await pool.fresh();
    await node.chain.checkSignedWrite('node-a', 1, 'dm_poll');
    await node.chain.checkSignedWrite('node-a', 1, 'dm_send');
    const r = await rejection(node.chain.checkSignedWrite('node-a', 1, 'dm_poll'));
    expect(r.reason).toContain('Replay detected');
    expect(node.chain.ledger.view.nodeSequences.size).toBe(0);
    expect(node.chain.length).toBe(0);
  });

  test('T12 rebuild after reload (pure state rebuild, §3.2)', () => {
    const ctx = ctxAt(T0);
    const s = new ScratchChain(ctx);
    s.append(signAppend(K1, 'message', M('hello'), 3));
    s.append(signAppend(K1, 'gate_message', G(3), 5));
    s.append(signAppend(K1, 'dm_message', D('recipient-a', 'dm-1', T0), 2));
    expect(validateAndSetSignedWriteSequence(s.state, K1.nodeId, 7, 'dm_send')).toBeNull();
    // What is persisted besides the events: DM counters and signed-write counters.
    const saved = { dm: dmDomains(s.state), signedWrites: signedWriteDomains(s.state) };
    expect(Object.keys(saved.signedWrites)).toEqual([`${K1.nodeId}|dm_send`]);
    const rebuilt = rebuildChainState(s.events, saved);
    expect(rebuilt.nodeSequences.get(K1.nodeId)).toBe(3);
    expect(rebuilt.sequenceDomains.get(gateKey)).toBe(5);
    expect(rebuilt.sequenceDomains.get(dmKey)).toBe(2);
    expect(rebuilt.sequenceDomains.get(`${K1.nodeId}|dm_send`)).toBe(7);
    // DM domain = max(persisted, chain).
    const higher = rebuildChainState(s.events, { dm: { [dmKey]: 9 }, signedWrites: saved.signedWrites });
    expect(higher.sequenceDomains.get(dmKey)).toBe(9);
    const replay = validateLocalAppend(rebuilt, signAppend(K1, 'gate_message', G(4), 5), ctx);
    expect(replay.kind === 'rejected' && replay.rejection.reason).toContain('Replay detected: sequence 5 <= last 5');
    expect(validateLocalAppend(rebuilt, signAppend(K1, 'gate_message', G(4), 6), ctx).kind).toBe('accepted');
  });

  test('T13 zero sequence', async () => {
    const node = await pool.fresh();
    const gate = await rejection(node.chain.append(signAppend(K1, 'gate_message', G(2), 0)));
    expect(gate.reason).toContain('sequence is required and must be > 0');
    const dm = await rejection(node.chain.append(signAppend(K1, 'dm_message', D('recipient-a', 'dm-0', T0), 0)));
    expect(dm.reason).toContain('sequence is required and must be > 0');
    const neg = await rejection(node.chain.append(signAppend(K1, 'gate_message', G(2), -1)));
    expect(neg.reason).toContain('sequence is required and must be > 0');
    expect(node.chain.length).toBe(0);
  });
});
