// infonet's app-level chunking inside SINGLE plaintexts (rns-wire.md §14): every message — one chunk or many —
// is `0x01 ‖ msg_id[8] ‖ index[2] ‖ count[2] ‖ payload[≤ 370]`, so there is one code path. Reticulum does not see
// this layer. The reassembler bounds everything an outsider can grow: chunk count, message size, the number of
// partial messages and their total bytes, and their age; completed msg_ids are remembered (bounded) so a chunk
// retransmitted after its proof was lost never delivers a message twice.
import { randomBytes } from 'node:crypto';
import { ENCRYPTED_MDU } from './constants.js';

export const CHUNK_VERSION = 0x01;
export const CHUNK_HEADER = 13;
export const CHUNK_PAYLOAD = ENCRYPTED_MDU - CHUNK_HEADER; // 370

export interface Chunk {
  msgId: Buffer;
  index: number;
  count: number;
  payload: Buffer;
}

export function encodeChunk(c: Chunk): Buffer {
  const h = Buffer.alloc(CHUNK_HEADER);
  h[0] = CHUNK_VERSION;
  c.msgId.copy(h, 1, 0, 8);
  h.writeUInt16BE(c.index, 9);
  h.writeUInt16BE(c.count, 11);
  return Buffer.concat([h, c.payload]);
}

export function decodeChunk(b: Buffer): Chunk | null {
  if (b.length < CHUNK_HEADER || b.length > ENCRYPTED_MDU || b[0] !== CHUNK_VERSION) return null;
  const index = b.readUInt16BE(9);
  const count = b.readUInt16BE(11);
  if (count === 0 || index >= count) return null;
  return { msgId: Buffer.from(b.subarray(1, 9)), index, count, payload: Buffer.from(b.subarray(CHUNK_HEADER)) };
}

/** Split a message into encoded chunks under a fresh random msg_id. */
export function splitMessage(message: Uint8Array, maxMessageBytes: number): Buffer[] {
  if (message.length > maxMessageBytes) throw new RangeError(`message of ${message.length} bytes exceeds ${maxMessageBytes}`);
  const msgId = randomBytes(8);
  const count = Math.max(1, Math.ceil(message.length / CHUNK_PAYLOAD));
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) out.push(encodeChunk({ msgId, index: i, count, payload: Buffer.from(message.subarray(i * CHUNK_PAYLOAD, (i + 1) * CHUNK_PAYLOAD)) }));
  return out;
}

export interface ReassemblyLimits {
  /** Largest message (bytes) accepted; also caps `count`. */
  maxMessageBytes: number;
  /** Partial messages held at once; the oldest is dropped beyond this. */
  maxPartial: number;
  /** Bytes held across all partial messages. */
  maxPartialBytes: number;
  /** Incomplete messages are dropped after this long (§14: ~2 minutes). */
  expiryMs: number;
  /** How many completed msg_ids are remembered to suppress late duplicates. */
  completedMemory: number;
}

export const DEFAULT_REASSEMBLY_LIMITS: ReassemblyLimits = {
  maxMessageBytes: 600 * 1024,
  maxPartial: 64,
  maxPartialBytes: 8 * 1024 * 1024,
  expiryMs: 120_000,
  completedMemory: 4_096,
};

interface Partial {
  count: number;
  parts: (Buffer | undefined)[];
  received: number;
  bytes: number;
  startedMs: number;
}

export type ChunkVerdict = 'complete' | 'partial' | 'duplicate' | 'refused';

export class Reassembler {
  private readonly partial = new Map<string, Partial>();
  private readonly completed = new Map<string, number>();
  private heldBytes = 0;

  constructor(private readonly limits: ReassemblyLimits = DEFAULT_REASSEMBLY_LIMITS) {}

  /** Feed one decoded chunk; `message` is set exactly once per msg_id, when its last missing chunk arrives. */
  push(c: Chunk, nowMs: number): { verdict: ChunkVerdict; message?: Buffer } {
    this.sweep(nowMs);
    const key = c.msgId.toString('hex');
    if (this.completed.has(key)) return { verdict: 'duplicate' };
    const maxCount = Math.max(1, Math.ceil(this.limits.maxMessageBytes / CHUNK_PAYLOAD));
    if (c.count > maxCount) return { verdict: 'refused' };
    if (c.count === 1) {
      this.markCompleted(key, nowMs);
      return { verdict: 'complete', message: c.payload };
    }
    let p = this.partial.get(key);
    if (p && p.count !== c.count) return { verdict: 'refused' };
    if (!p) {
      while (this.partial.size >= this.limits.maxPartial) this.dropOldest();
      p = { count: c.count, parts: new Array(c.count), received: 0, bytes: 0, startedMs: nowMs };
      this.partial.set(key, p);
    }
    if (p.parts[c.index]) return { verdict: 'duplicate' };
    if (p.bytes + c.payload.length > this.limits.maxMessageBytes) {
      this.drop(key);
      return { verdict: 'refused' };
    }
    while (this.heldBytes + c.payload.length > this.limits.maxPartialBytes && this.partial.size > 1) this.dropOldest(key);
    p.parts[c.index] = c.payload;
    p.received++;
    p.bytes += c.payload.length;
    this.heldBytes += c.payload.length;
    if (p.received < p.count) return { verdict: 'partial' };
    this.drop(key);
    this.markCompleted(key, nowMs);
    return { verdict: 'complete', message: Buffer.concat(p.parts as Buffer[]) };
  }

  sweep(nowMs: number): void {
    for (const [k, p] of this.partial) if (nowMs - p.startedMs >= this.limits.expiryMs) this.drop(k);
  }

  get partialCount(): number {
    return this.partial.size;
  }

  get partialBytes(): number {
    return this.heldBytes;
  }

  private markCompleted(key: string, nowMs: number): void {
    this.completed.set(key, nowMs);
    if (this.completed.size > this.limits.completedMemory) this.completed.delete(this.completed.keys().next().value as string);
  }

  private drop(key: string): void {
    const p = this.partial.get(key);
    if (!p) return;
    this.heldBytes -= p.bytes;
    this.partial.delete(key);
  }

  private dropOldest(except?: string): void {
    for (const k of this.partial.keys()) {
      if (k === except) continue;
      this.drop(k);
      return;
    }
  }
}
