// Snapshot v2 (store/chain-snapshot.ts): the id index travels in chunks under their own keys, named by
// digest in the hashed record; a later snapshot rewrites only the chunks that changed, and a chunk that
// is missing, stale or altered makes the whole snapshot unusable (the full check runs instead).
import { createHash } from 'node:crypto';
import { emptyChainState, type ChainState } from '../../protocol/chain-state.js';
import { INDEX_CHUNK_SLOTS } from '../../protocol/event-index.js';
import { decodeSnapshot, encodeSnapshot, type EncodedSnapshot } from '../../store/chain-snapshot.js';

const hexId = (i: number): string => createHash('sha256').update(`event-${i}`).digest('hex');

function stateOf(length: number): ChainState {
  const s = emptyChainState();
  for (let h = 0; h < length; h++) s.eventIndex.set(hexId(h), h);
  s.length = length;
  s.head = hexId(length - 1);
  s.nodeSequences.set('n1|public', 3);
  return s;
}

/** A chunk store: what the batches of the given snapshots left on disk. */
function written(...snaps: EncodedSnapshot[]): Map<number, Buffer> {
  const disk = new Map<number, Buffer>();
  for (const s of snaps) for (const { k, ids } of s.chunks) disk.set(k, Buffer.from(ids));
  return disk;
}
const reader = (disk: Map<number, Buffer>) => async (k: number) => disk.get(k);

test('a second snapshot writes only the chunks past the first one, and decodes to the same index', async () => {
  const first = encodeSnapshot(stateOf(INDEX_CHUNK_SLOTS + 100))!;
  expect(first.chunks.map((c) => c.k)).toEqual([0, 1]);
  const len = 2 * INDEX_CHUNK_SLOTS + 50;
  const state = stateOf(len);
  const second = encodeSnapshot(state, first.chunkDigests.slice(0, 1))!;
  expect(second.chunks.map((c) => c.k)).toEqual([1, 2]);
  const disk = written(first, second);
  const decoded = (await decodeSnapshot(second.record, reader(disk)))!;
  expect(decoded.length).toBe(len);
  expect(decoded.state.head).toBe(state.head);
  expect([...decoded.state.eventIndex].join()).toBe([...state.eventIndex].join());
  expect(decoded.idAt(INDEX_CHUNK_SLOTS + 7)).toBe(hexId(INDEX_CHUNK_SLOTS + 7));
  expect(decoded.state.nodeSequences.get('n1|public')).toBe(3);
  expect(decoded.fullChunkDigests).toEqual(second.chunkDigests.slice(0, 2));
});

test('a missing, stale or altered chunk, or an altered record, gives no snapshot', async () => {
  const snap = encodeSnapshot(stateOf(INDEX_CHUNK_SLOTS + 100))!;
  const good = written(snap);
  expect(await decodeSnapshot(snap.record, reader(good))).not.toBeNull();
  const missing = written(snap);
  missing.delete(1);
  expect(await decodeSnapshot(snap.record, reader(missing))).toBeNull();
  const stale = written(snap);
  stale.set(1, stale.get(1)!.subarray(0, 32 * 99));
  expect(await decodeSnapshot(snap.record, reader(stale))).toBeNull();
  const altered = written(snap);
  altered.get(0)![5] ^= 1;
  expect(await decodeSnapshot(snap.record, reader(altered))).toBeNull();
  const record = { ...snap.record, body: Buffer.from(snap.record.body) };
  record.body[3] ^= 1;
  expect(await decodeSnapshot(record, reader(good))).toBeNull();
});
