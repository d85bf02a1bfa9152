// Fast cold start (issue 14): every N heights the derived state is snapshotted (hashed, in the same
// fsync'd batch); a reopen checks the snapshot's head event and the tail only, and re-hashes the older
// events in the background. A corrupt old event is still found (T74): the ledger is then failed and
// refuses writes naming the height. A corrupt tail is refused at open; a bad snapshot is ignored.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { openChainAt, type OpenedChain } from '../../actors/open-chain.js';
import { chainCommand } from '../../cli/chain.js';
import { rebuildChainState } from '../../protocol/chain-state.js';
import { ErrorCodes } from '../../protocol/errors.js';
import type { ChainEvent } from '../../protocol/event.js';
import { signAppend } from '../../protocol/local-sign.js';
import { SNAPSHOT_KEY } from '../../store/chain-snapshot.js';
import { heightKey, sublevel } from '../../store/db.js';
import { chainSettings, ctxAt, D, K1, M, newIdentity, NodePool, rejection, ScratchChain, T0 } from './helpers.js';

const pool = new NodePool();
const opened: OpenedChain[] = [];
afterAll(async () => {
  for (const o of opened) await o.close().catch(() => undefined);
  await pool.cleanup();
});

const EVERY = 10;

async function open(dir: string): Promise<OpenedChain> {
  const o = await openChainAt(dir, { settings: chainSettings(), clock: () => T0 + 100, snapshotEvery: EVERY });
  opened.push(o);
  return o;
}

/** 25 events (public, DM, two authors) ingested in batches: snapshots at 13 and 21, a tail of 4 after. */
async function storeWith25(): Promise<{ dir: string; events: ChainEvent[] }> {
  const dir = pool.tempDir();
  const scratch = new ScratchChain(ctxAt(T0 + 100));
  const b = newIdentity();
  for (let i = 0; i < 25; i++) {
    if (i % 5 === 4) scratch.append(signAppend(K1, 'dm_message', D(`r${i}`, `dm-${i}`, T0 + i), i + 1, T0 + i));
    else scratch.append(signAppend(i % 2 ? b : K1, 'message', M(`m${i}`), i + 1, T0 + i));
  }
  const node = await open(dir);
  for (const [from, to] of [[0, 7], [7, 13], [13, 21], [21, 25]]) expect((await node.chain.ingest(scratch.events.slice(from, to), 0)).accepted).toBe(to - from);
  await node.close();
  return { dir, events: scratch.events };
}

const plainState = (s: ReturnType<typeof rebuildChainState>) => ({ ...s, eventIndex: [...s.eventIndex].sort(), spool: [...s.spool].sort() });

test('a reopen from the snapshot gives the same derived state as a full rebuild, and the background check verifies the prefix', async () => {
  const { dir, events } = await storeWith25();
  const node = await open(dir);
  const meta = await node.chain.ledger.store.meta.get(SNAPSHOT_KEY);
  expect(meta).toBeDefined();
  const expected = rebuildChainState(events, {});
  const view = node.chain.ledger.view;
  expect(plainState(view as never)).toEqual(plainState(expected));
  expect(await node.chain.ledger.integrityChecked()).toEqual({ status: 'verified', verifiedUpTo: 25 });
  // and the chain goes on from there
  await node.chain.append(signAppend(K1, 'message', M('after'), 100, T0 + 50));
  expect(node.chain.length).toBe(26);
});

/** A 25-event store whose snapshot covers height 3, with event 3's payload changed afterwards (hash no longer matches). */
async function storeTamperedAtHeight3(): Promise<string> {
  const { dir, events } = await storeWith25();
  {
    const node = await open(dir);
    await node.chain.ledger.integrityChecked();
    await node.chain.stop();
    await sublevel(node.db, 'chain-ev').put(heightKey(3), { ...events[3], payload: { ...events[3].payload, message: 'tampered' } });
    await node.close();
  }
  return dir;
}

test('T74 an old event tampered below the snapshot is found by the background check; writes are then refused', async () => {
  const dir = await storeTamperedAtHeight3();
  const node = await open(dir); // open checks the snapshot head and the tail only
  expect(node.chain.length).toBe(25);
  const status = await node.chain.ledger.integrityChecked();
  expect(status.status).toBe('failed');
  expect(status.verifiedUpTo).toBe(3);
  const refused = await rejection(node.chain.append(signAppend(K1, 'message', M('no'), 100, T0 + 50)));
  expect(refused.code).toBe(ErrorCodes.STORE_CORRUPT);
  expect(refused.reason).toContain('height 3');
  expect(node.chain.length).toBe(25);
});

test('T74 chain export of a store tampered below the snapshot fails naming the height and leaves no file (export re-hashes what it writes)', async () => {
  const dir = await storeTamperedAtHeight3();
  const out = join(pool.tempDir(), 'chain.json');
  const err: string[] = [];
  const se = jest.spyOn(process.stderr, 'write').mockImplementation((s) => { err.push(String(s)); return true; });
  let code: number;
  try {
    code = await chainCommand(['export', '--data', dir, '--out', out]);
  } finally {
    se.mockRestore();
  }
  expect(code).toBe(2);
  expect(err.join('')).toMatch(/integrity check failed at height 3: Hash mismatch/);
  expect(existsSync(out)).toBe(false);
});

test('a tampered event in the tail after the snapshot is refused at open', async () => {
  const { dir, events } = await storeWith25();
  {
    const node = await open(dir);
    await node.chain.stop();
    await sublevel(node.db, 'chain-ev').put(heightKey(22), { ...events[22], prev_hash: 'f'.repeat(64) });
    await node.close();
  }
  await expect(open(dir)).rejects.toMatchObject({ code: ErrorCodes.STORE_CORRUPT, reason: expect.stringContaining('height 22') });
});

test('a snapshot that fails its digest is ignored: the full check runs at open and still refuses a bad old event', async () => {
  const { dir, events } = await storeWith25();
  {
    const node = await open(dir);
    await node.chain.stop();
    const meta = sublevel(node.db, 'chain-meta');
    const snap = (await meta.get(SNAPSHOT_KEY)) as { body: Buffer };
    snap.body[snap.body.length - 1] ^= 1;
    await meta.put(SNAPSHOT_KEY, snap);
    await node.close();
  }
  const node = await open(dir);
  expect(node.chain.ledger.integrity).toEqual({ status: 'verified', verifiedUpTo: 25 });
  expect(node.chain.head).toBe(events[24].event_id);
  await node.chain.stop();
  await sublevel(node.db, 'chain-ev').put(heightKey(4), { ...events[4], payload: { ...events[4].payload, message: 'tampered' } });
  const meta = sublevel(node.db, 'chain-meta');
  const snap = (await meta.get(SNAPSHOT_KEY)) as { body: Buffer };
  snap.body[0] ^= 1;
  await meta.put(SNAPSHOT_KEY, snap);
  await node.close();
  await expect(open(dir)).rejects.toMatchObject({ code: ErrorCodes.STORE_CORRUPT, reason: expect.stringContaining('height 4') });
});
