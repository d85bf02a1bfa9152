// The compact event_id → height index (protocol/event-index.ts) behaves as the Map it replaced:
// same look-ups, overwrites and insertion order, for hex ids and for any other string.
import { createHash } from 'node:crypto';
import { EventIndex, INDEX_CHUNK_SLOTS } from '../../protocol/event-index.js';

const hexId = (i: number): string => createHash('sha256').update(`event-${i}`).digest('hex');

test('look-ups, overwrites and order match a Map, across chunk and table growth', () => {
  const index = new EventIndex();
  const map = new Map<string, number>();
  const n = INDEX_CHUNK_SLOTS + 1_000;
  for (let i = 0; i < n; i++) {
    const id = i % 5_000 === 7 ? `odd-${i}` : i % 9_000 === 3 ? hexId(i).toUpperCase() : hexId(i);
    index.set(id, i);
    map.set(id, i);
  }
  index.set(hexId(10), -5).set('odd-7', 42); // overwrite in place, order kept
  map.set(hexId(10), -5).set('odd-7', 42);
  expect(index.size).toBe(map.size);
  for (const id of [hexId(0), hexId(10), hexId(n - 1), 'odd-7', hexId(3).toUpperCase(), hexId(n), 'nope', '', 'f'.repeat(64), 'g'.repeat(64)]) {
    expect([id, index.has(id), index.get(id)]).toEqual([id, map.has(id), map.get(id)]);
  }
  expect([...index]).toEqual([...map]);
  expect([...index.keys()]).toEqual([...map.keys()]);
  expect(EventIndex.from(map).get(hexId(n - 1))).toBe(n - 1);
});

test('raw id bytes in height order round-trip; an index that is not in height order has none', () => {
  const ids = Array.from({ length: INDEX_CHUNK_SLOTS + 10 }, (_, i) => hexId(i));
  const index = new EventIndex();
  ids.forEach((id, h) => index.set(id, h));
  const bytes = index.idBytes(0, ids.length)!;
  expect(bytes.toString('hex')).toBe(ids.join(''));
  expect(index.idBytes(INDEX_CHUNK_SLOTS - 1, INDEX_CHUNK_SLOTS + 1)!.toString('hex')).toBe(ids[INDEX_CHUNK_SLOTS - 1] + ids[INDEX_CHUNK_SLOTS]);
  const back = EventIndex.fromIdBytes(bytes);
  expect(back.size).toBe(ids.length);
  expect(back.get(ids[INDEX_CHUNK_SLOTS + 3])).toBe(INDEX_CHUNK_SLOTS + 3);
  expect(back.idAt(5)).toBe(ids[5]);
  expect(() => EventIndex.fromIdBytes(Buffer.concat([bytes.subarray(0, 64), bytes.subarray(0, 32)]))).toThrow('repeated id');
  const shuffled = new EventIndex().set(ids[0], 1).set(ids[1], 0);
  expect(shuffled.idBytes(0, 2)).toBeNull();
  expect(new EventIndex().set('odd', 0).idBytes(0, 1)).toBeNull();
});
