// The persisted sequence-domain counters (§3.2: DM domains, off-chain signed writes) are keys of their own, written
// only when they move (issue 14: the header record used to carry every author's counters and was rewritten by every
// append, ingest batch and signed poll — O(authors) per write). Stores written before keep working: their tables are
// read, and the first write moves them to keys of their own.
import { sublevel } from '../../store/db.js';
import { generateIdentity } from '../../protocol/identity.js';
import { signAppend } from '../../protocol/local-sign.js';
import { D, K1, NodePool, T0, chainWrites } from './helpers.js';

const pool = new NodePool();
afterAll(() => pool.cleanup());

const dmKey = `${K1.nodeId}|dm_message`;

async function metaOf(db: Parameters<typeof sublevel>[0]): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  for await (const [k, v] of sublevel(db, 'chain-meta').iterator() as AsyncIterable<[string, unknown]>) out.set(k, v);
  return out;
}

test('a write stores the header and only the counters it moved; a reopened chain has them all', async () => {
  const node = await pool.fresh();
  const pollers = Array.from({ length: 50 }, () => generateIdentity().nodeId);
  for (const [i, id] of pollers.entries()) await node.chain.checkSignedWrite(id, i + 1, 'dm_poll');
  await node.chain.append(signAppend(K1, 'dm_message', D('recipient-a', 'dm-1', T0), 4));

  const writes = await chainWrites(node, () => node.chain.checkSignedWrite(pollers[7], 99, 'dm_poll'));
  expect(writes).toHaveLength(1);
  const ops = writes[0] as Array<{ key: string; value: unknown }>;
  expect(ops.map((o) => o.key).sort()).toEqual(['chain', `dom|${pollers[7]}|dm_poll`]);
  expect(ops.find((o) => o.key === 'chain')!.value).toEqual({ length: 1, head: node.chain.head });

  const meta = await metaOf(node.db);
  expect(meta.get(`dom|${dmKey}`)).toBe(4);
  expect(meta.get(`dom|${pollers[7]}|dm_poll`)).toBe(99);
  const dir = node.dir;
  await node.close();
  const again = await pool.open(dir, { clock: () => T0 });
  const domains = again.chain.ledger.view.sequenceDomains;
  expect(domains.get(dmKey)).toBe(4);
  expect(domains.get(`${pollers[7]}|dm_poll`)).toBe(99);
  expect(domains.get(`${pollers[8]}|dm_poll`)).toBe(9);
  await expect(again.chain.checkSignedWrite(pollers[8], 9, 'dm_poll')).rejects.toThrow(/Replay detected/);
  await again.close();
});

test("an older store's tables in the header are read, and moved to keys of their own by the first write", async () => {
  const node = await pool.fresh();
  await node.chain.append(signAppend(K1, 'dm_message', D('recipient-a', 'dm-1', T0), 2));
  const dir = node.dir;
  const head = node.chain.head;
  // The header as older versions wrote it: every counter inside, no keys of their own.
  const meta = sublevel(node.db, 'chain-meta');
  await meta.del(`dom|${dmKey}`);
  const old = generateIdentity().nodeId;
  await meta.put('chain', { length: 1, head, dmDomains: { [dmKey]: 6 }, signedWrites: { [`${old}|dm_send`]: 11 } });
  await node.close();

  const a = await pool.open(dir, { clock: () => T0 });
  expect(a.chain.ledger.view.sequenceDomains.get(dmKey)).toBe(6); // max(saved, chain)
  expect(a.chain.ledger.view.sequenceDomains.get(`${old}|dm_send`)).toBe(11);
  await a.chain.checkSignedWrite(generateIdentity().nodeId, 1, 'dm_poll'); // any write migrates
  const after = await metaOf(a.db);
  expect(after.get('chain')).toEqual({ length: 1, head });
  expect(after.get(`dom|${dmKey}`)).toBe(6);
  expect(after.get(`dom|${old}|dm_send`)).toBe(11);
  await a.close();

  const b = await pool.open(dir, { clock: () => T0 });
  expect(b.chain.ledger.view.sequenceDomains.get(dmKey)).toBe(6);
  await expect(b.chain.checkSignedWrite(old, 11, 'dm_send')).rejects.toThrow(/Replay detected/);
  await b.close();
});
