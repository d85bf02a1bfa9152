// §14 app-level chunking: layout, reassembly limits and expiry, exactly-once delivery, window + retransmission.
import { randomBytes } from 'node:crypto';
import { CHUNK_PAYLOAD, DEFAULT_REASSEMBLY_LIMITS, Reassembler, decodeChunk, encodeChunk, splitMessage } from '../../transports/rns/chunking.js';
import { ChunkSendFailed, sendChunks } from '../../transports/rns/chunk-sender.js';
import { ENCRYPTED_MDU } from '../../transports/rns/constants.js';

const limits = { ...DEFAULT_REASSEMBLY_LIMITS, maxMessageBytes: 64 * 1024 };

test('layout: version ‖ msg_id[8] ‖ index[2] ‖ count[2] ‖ payload; a full chunk is exactly ENCRYPTED_MDU', () => {
  const c = encodeChunk({ msgId: Buffer.from('0102030405060708', 'hex'), index: 2, count: 3, payload: Buffer.alloc(CHUNK_PAYLOAD, 0xaa) });
  expect(c.length).toBe(ENCRYPTED_MDU);
  expect(c.subarray(0, 13).toString('hex')).toBe('01' + '0102030405060708' + '0002' + '0003');
  expect(decodeChunk(c)!.payload.length).toBe(370);
  expect(decodeChunk(Buffer.concat([c, Buffer.alloc(1)]))).toBeNull();
  expect(decodeChunk(Buffer.from('02' + '00'.repeat(12), 'hex'))).toBeNull();
  expect(decodeChunk(encodeChunk({ msgId: Buffer.alloc(8), index: 3, count: 3, payload: Buffer.alloc(0) }))).toBeNull();
});

test('even an empty or one-chunk message carries the header (count = 1)', () => {
  const [only] = splitMessage(Buffer.alloc(0), 1000);
  expect(decodeChunk(only)).toMatchObject({ index: 0, count: 1 });
  expect(splitMessage(Buffer.alloc(CHUNK_PAYLOAD), 1000)).toHaveLength(1);
  expect(splitMessage(Buffer.alloc(CHUNK_PAYLOAD + 1), 1000)).toHaveLength(2);
});

test('reassembly in any order, duplicates ignored, delivered exactly once even after completion', () => {
  const msg = randomBytes(5000);
  const chunks = splitMessage(msg, limits.maxMessageBytes).map((c) => decodeChunk(c)!);
  const r = new Reassembler(limits);
  const order = [...chunks].reverse();
  const delivered: Buffer[] = [];
  for (const c of [...order, chunks[3], chunks[0]]) {
    const out = r.push(c, 0);
    if (out.message) delivered.push(out.message);
  }
  expect(delivered).toEqual([msg]);
  expect(r.push(chunks[1], 10).verdict).toBe('duplicate');
  expect(r.partialCount).toBe(0);
  expect(r.partialBytes).toBe(0);
});

test('limits: count over the cap, size over the cap, inconsistent count, too many partial messages, expiry', () => {
  const r = new Reassembler({ ...limits, maxPartial: 2, expiryMs: 1000 });
  expect(r.push({ msgId: Buffer.alloc(8, 1), index: 0, count: 1000, payload: Buffer.alloc(10) }, 0).verdict).toBe('refused');
  expect(r.push({ msgId: Buffer.alloc(8, 2), index: 0, count: 3, payload: Buffer.alloc(10) }, 0).verdict).toBe('partial');
  expect(r.push({ msgId: Buffer.alloc(8, 2), index: 1, count: 4, payload: Buffer.alloc(10) }, 0).verdict).toBe('refused');
  r.push({ msgId: Buffer.alloc(8, 3), index: 0, count: 3, payload: Buffer.alloc(10) }, 0);
  r.push({ msgId: Buffer.alloc(8, 4), index: 0, count: 3, payload: Buffer.alloc(10) }, 0);
  expect(r.partialCount).toBe(2); // the oldest partial (2) was dropped
  expect(r.push({ msgId: Buffer.alloc(8, 2), index: 1, count: 3, payload: Buffer.alloc(10) }, 0).verdict).toBe('partial');
  r.sweep(1000);
  expect(r.partialCount).toBe(0);
  expect(r.partialBytes).toBe(0);
});

test('total bytes held by partial messages stay under maxPartialBytes', () => {
  const r = new Reassembler({ ...limits, maxPartialBytes: 2000 });
  for (let m = 0; m < 20; m++) r.push({ msgId: Buffer.alloc(8, m), index: 0, count: 10, payload: Buffer.alloc(370) }, 0);
  expect(r.partialBytes).toBeLessThanOrEqual(2000);
});

test('sender: window bounded, lost proofs retransmitted freshly, every chunk proven once reassembled', async () => {
  const msg = randomBytes(4000);
  const chunks = splitMessage(msg, limits.maxMessageBytes);
  const r = new Reassembler(limits);
  const delivered: Buffer[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let n = 0;
  const { transmissions } = await sendChunks(chunks, async (chunk) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((res) => setImmediate(res));
    inFlight--;
    n++;
    if (n % 3 === 0) return 'timeout'; // packet lost
    const out = r.push(decodeChunk(chunk)!, 0);
    if (out.message) delivered.push(out.message);
    if (n % 4 === 0) return 'timeout'; // delivered, proof lost → a duplicate chunk follows
    return 'delivered';
  }, { window: 4, maxTries: 5 });
  expect(maxInFlight).toBe(4);
  expect(transmissions).toBeGreaterThan(chunks.length);
  expect(delivered).toEqual([msg]);
});

test('sender gives up after maxTries and reports the whole message as failed', async () => {
  const chunks = splitMessage(randomBytes(1000), limits.maxMessageBytes);
  let tries = 0;
  await expect(sendChunks(chunks, async () => (tries++, 'timeout'), { window: 1, maxTries: 5 })).rejects.toBeInstanceOf(ChunkSendFailed);
  expect(tries).toBe(5);
});
