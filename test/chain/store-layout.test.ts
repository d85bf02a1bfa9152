// What one append writes (issue 14): the event under its height and the chain header — no event_id → height key
// (earlier versions wrote one per event under `chain-id`, never read: lookups by id use the in-memory index, which a
// reopened chain rebuilds).
import { sublevel } from '../../store/db.js';
import { signAppend } from '../../protocol/local-sign.js';
import { K1, M, NodePool, T0, chainWrites } from './helpers.js';

const pool = new NodePool();
afterAll(() => pool.cleanup());

test('an append writes its event by height and the header, no event_id index key; the id is found after a reopen', async () => {
  const node = await pool.fresh();
  const store = node.chain.ledger.store;
  let ev!: Awaited<ReturnType<typeof node.chain.append>>;
  const writes = await chainWrites(node, async () => { ev = await node.chain.append(signAppend(K1, 'message', M('hello'), 1)); });
  expect(writes).toHaveLength(1);
  expect(writes[0].map((o) => o.sublevel === store.events ? 'event' : o.sublevel === store.meta ? `meta:${o.key}` : 'other')).toEqual(['event', 'meta:chain']);
  let idKeys = 0;
  for await (const _k of sublevel(node.db, 'chain-id').keys()) idKeys++;
  expect(idKeys).toBe(0);
  const dir = node.dir;
  await node.close();
  const again = await pool.open(dir, { clock: () => T0 });
  expect(again.chain.heightOf(ev.event_id)).toBe(0);
  await again.close();
});
