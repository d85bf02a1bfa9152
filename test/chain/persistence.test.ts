// Persistence: T12 restart from the store, T73 (in-process: acknowledged appends survive a reopen),
// T74 corrupt store refused / quarantined (spec §3.2, §12 "Persistence / crash").
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { GENESIS_HASH } from '../../protocol/constants.js';
import { ErrorCodes, isInfonetError } from '../../protocol/errors.js';
import type { ChainEvent } from '../../protocol/event.js';
import { signAppend } from '../../protocol/local-sign.js';
import { validateChain } from '../../protocol/chain-validator.js';
import { heightKey, sublevel } from '../../store/db.js';
import { D, G, K1, M, NodePool, T0, ctxAt, rejection } from './helpers.js';

const pool = new NodePool();
afterAll(() => pool.cleanup());

describe('persistence', () => {
  test('T12 rebuild after reload (restart from the store)', async () => {
    const node = await pool.fresh(T0);
    await node.chain.append(signAppend(K1, 'message', M('hello'), 3));
    await node.chain.append(signAppend(K1, 'gate_message', G(3), 5));
    await node.chain.append(signAppend(K1, 'dm_message', D('recipient-a', 'dm-1', T0), 2));
    await node.chain.checkSignedWrite(K1.nodeId, 7, 'dm_send');
    const head = node.chain.head;
    await node.close();

    const reopened = await pool.open(node.dir, { clock: node.clock });
    const view = reopened.chain.ledger.view;
    expect(reopened.chain.length).toBe(3);
    expect(reopened.chain.head).toBe(head);
    expect(view.nodeSequences.get(K1.nodeId)).toBe(3);
    expect(view.sequenceDomains.get(`${K1.nodeId}|gate_message`)).toBe(5);
    expect(view.sequenceDomains.get(`${K1.nodeId}|dm_message`)).toBe(2);
    expect(view.sequenceDomains.get(`${K1.nodeId}|dm_send`)).toBe(7);
    const replay = await rejection(reopened.chain.append(signAppend(K1, 'gate_message', G(4), 5)));
    expect(replay.reason).toContain('Replay detected: sequence 5 <= last 5');
    await reopened.chain.append(signAppend(K1, 'gate_message', G(4), 6));
    const sendReplay = await rejection(reopened.chain.checkSignedWrite(K1.nodeId, 7, 'dm_send'));
    expect(sendReplay.reason).toContain('Replay detected');
    expect(reopened.chain.length).toBe(4);
    await reopened.close();
  });

  test('T73 crash after acknowledged append (in-process: 5 gate posts, stop, reopen)', async () => {
    const node = await pool.fresh(T0);
    // Five posts issued within the same second, acknowledged concurrently (group commit).
    const acked: ChainEvent[] = await Promise.all(
      [1, 2, 3, 4, 5].map((seq) => node.chain.append(signAppend(K1, 'gate_message', G(seq), seq))),
    );
    expect(acked.map((e) => e.sequence)).toEqual([1, 2, 3, 4, 5]);
    await node.chain.stop();
    await node.db.close();

    const reopened = await pool.open(node.dir, { clock: node.clock });
    expect(reopened.chain.previousRun?.cleanStop).toBe(true);
    expect(reopened.chain.length).toBe(5);
    const events = await reopened.chain.readRange(0, 10);
    expect(events.map((e) => e.event_id)).toEqual(acked.map((e) => e.event_id));
    expect(reopened.chain.head).toBe(acked[4].event_id);
    expect(reopened.chain.ledger.view.sequenceDomains.get(`${K1.nodeId}|gate_message`)).toBe(5);
    expect(validateChain(events, ctxAt(T0)).valid).toBe(true);
    await reopened.close();
  });

  test('T74 corrupt store quarantined', async () => {
    const node = await pool.fresh(T0);
    for (let i = 0; i < 3; i++) await node.chain.appendLocal(K1, 'message', M(`m${i}`));
    const original = await node.chain.readRange(0, 3);
    // Tamper with the payload of height 1 inside LevelDB (chain stopped, db still open).
    await node.chain.stop();
    const evs = sublevel(node.db, 'chain-ev');
    const tampered = { ...original[1], payload: { ...original[1].payload, message: 'tampered' } };
    await evs.put(heightKey(1), tampered);
    await node.db.close();

    // Default: refuse to open, naming the height.
    let err: unknown;
    try {
      await pool.open(node.dir, { clock: node.clock });
    } catch (e) {
      err = e;
    }
    expect(isInfonetError(err)).toBe(true);
    if (isInfonetError(err)) {
      expect(err.code).toBe(ErrorCodes.STORE_CORRUPT);
      expect(err.reason).toContain('height 1');
    }
    // Refusing must leave the data in place (nothing quarantined yet).
    expect(readdirSync(node.dir).some((n) => n.startsWith('db.quarantine.'))).toBe(false);

    // With quarantine: empty chain at genesis, corrupt data kept aside.
    const fresh = await pool.open(node.dir, { clock: node.clock, quarantineCorrupt: true });
    expect(fresh.chain.length).toBe(0);
    expect(fresh.chain.head).toBe(GENESIS_HASH);
    expect(fresh.quarantined).toBeDefined();
    const aside = readdirSync(node.dir).filter((n) => n.startsWith('db.quarantine.'));
    expect(aside).toHaveLength(1);
    expect(existsSync(join(node.dir, aside[0]))).toBe(true);
    expect(fresh.quarantined).toBe(join(node.dir, aside[0]));
    // Sync can rebuild: the original (untampered) events ingest cleanly.
    const out = await fresh.chain.ingest(original, 0);
    expect(out).toMatchObject({ accepted: 3, duplicates: 0, rejected: [] });
    expect(fresh.chain.head).toBe(original[2].event_id);
    await fresh.close();
  });

  test('T74 a broken link (not just a payload) is detected too', async () => {
    const node = await pool.fresh(T0);
    for (let i = 0; i < 3; i++) await node.chain.appendLocal(K1, 'message', M(`m${i}`));
    const original = await node.chain.readRange(0, 3);
    await node.chain.stop();
    await sublevel(node.db, 'chain-ev').put(heightKey(2), { ...original[2], prev_hash: 'f'.repeat(64) });
    await node.db.close();
    await expect(pool.open(node.dir, { clock: node.clock })).rejects.toMatchObject({ code: ErrorCodes.STORE_CORRUPT, reason: expect.stringContaining('height 2') });
  });
});
