// The chain's event_id → height index, kept compact (issue 14). As a Map of hex strings it cost ~130
// bytes per event on V8's heap (a 64-char string, the entry and the table's slack): ~130 MiB at 1M
// events, and V8 sizes its heap limit as a multiple of what is live, so the process grew by far more.
// Here each id is 32 raw bytes in fixed-size chunks outside V8's heap, found through an open-addressing
// table of slot numbers (Int32Array). Ids that are not lowercase 64-hex (never valid on a chain, but the
// index must not care) live in a small Map instead. Insertion order is kept, as with a Map.
import { randomBytes } from 'node:crypto';

const ID_BYTES = 32;
const CHUNK_SHIFT = 16;
/** Slots per chunk: 2 MiB of ids, so growing never copies the index. */
export const INDEX_CHUNK_SLOTS = 1 << CHUNK_SHIFT;
const CHUNK_MASK = INDEX_CHUNK_SLOTS - 1;

// A per-process secret in the table hash: event ids are chosen by whoever builds the events, and ids
// ground to share a table position would turn every look-up into a long probe (hash flooding).
const SEED = randomBytes(4).readInt32LE(0);

const hexValue = (c: number): number => (c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1);

function hashAt(bytes: Uint8Array, off: number): number {
  let h = SEED;
  for (let i = off; i < off + ID_BYTES; i += 4) {
    h = Math.imul(h ^ ((bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3]), 0x9e3779b1);
    h ^= h >>> 15;
  }
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

export class EventIndex implements Iterable<[string, number]> {
  private idChunks: Buffer[] = [];
  private heightChunks: Int32Array[] = [];
  private count = 0;
  /** slot + 1 per position, 0 = empty; at most half full. */
  private table = new Int32Array(1024);
  /** Ids that are not lowercase 64-hex: id → slot and slot → id. */
  private oddSlots: Map<string, number> | null = null;
  private oddIds: Map<number, string> | null = null;
  private readonly scratch = Buffer.alloc(ID_BYTES);
  /** Table position where the last failed find() would insert. */
  private freePos = 0;

  /** An index holding `ids` (32 bytes each) at heights 0, 1, 2, … */
  static fromIdBytes(ids: Uint8Array): EventIndex {
    const index = new EventIndex();
    index.appendIds(ids);
    return index;
  }

  /** Appends raw ids (32 bytes each) at the next heights (height = slot). Throws on a repeated id. */
  appendIds(ids: Uint8Array): void {
    const n = Math.floor(ids.byteLength / ID_BYTES);
    this.growTable(this.count + n);
    for (let i = 0; i < n; i++) {
      this.scratch.set(ids.subarray(i * ID_BYTES, (i + 1) * ID_BYTES));
      if (this.find() >= 0) this.fail('repeated id');
      this.insert(this.count);
    }
  }

  static from(entries: Iterable<readonly [string, number]>): EventIndex {
    const index = new EventIndex();
    for (const [id, h] of entries) index.set(id, h);
    return index;
  }

  get size(): number {
    return this.count;
  }

  get(id: string): number | undefined {
    const slot = this.slotOf(id);
    return slot < 0 ? undefined : this.heightChunks[slot >> CHUNK_SHIFT][slot & CHUNK_MASK];
  }

  has(id: string): boolean {
    return this.slotOf(id) >= 0;
  }

  set(id: string, height: number): this {
    if (!this.parse(id)) {
      const known = this.oddSlots?.get(id);
      if (known !== undefined) this.heightChunks[known >> CHUNK_SHIFT][known & CHUNK_MASK] = height;
      else {
        (this.oddSlots ??= new Map()).set(id, this.count);
        (this.oddIds ??= new Map()).set(this.count, id);
        this.scratch.fill(0);
        this.append(height);
      }
      return this;
    }
    const slot = this.find();
    if (slot >= 0) this.heightChunks[slot >> CHUNK_SHIFT][slot & CHUNK_MASK] = height;
    else {
      if ((this.count + 1) * 2 > this.table.length) {
        this.growTable(this.count + 1);
        this.find(); // the free position moved with the new table
      }
      this.insert(height);
    }
    return this;
  }

  /** The id in insertion slot `slot` (for an index built in height order: the id at that height). */
  idAt(slot: number): string {
    const odd = this.oddIds?.get(slot);
    if (odd !== undefined) return odd;
    const off = (slot & CHUNK_MASK) * ID_BYTES;
    return this.idChunks[slot >> CHUNK_SHIFT].toString('hex', off, off + ID_BYTES);
  }

  /**
   * The ids of slots `from` up to `to` as raw bytes, when every slot there holds its own height and a
   * hex id (an index built by appending a chain); null otherwise. A view into the index when the range
   * lies in one chunk (the caller must not keep it past the next set), a copy when it spans chunks.
   */
  idBytes(from: number, to: number): Buffer | null {
    if (from < 0 || to > this.count || from > to) return null;
    for (let slot = from; slot < to; slot++) {
      if (this.heightChunks[slot >> CHUNK_SHIFT][slot & CHUNK_MASK] !== slot || this.oddIds?.has(slot)) return null;
    }
    const parts: Buffer[] = [];
    for (let slot = from; slot < to; ) {
      const end = Math.min(to, ((slot >> CHUNK_SHIFT) + 1) << CHUNK_SHIFT);
      parts.push(this.idChunks[slot >> CHUNK_SHIFT].subarray((slot & CHUNK_MASK) * ID_BYTES, ((end - 1) & CHUNK_MASK) * ID_BYTES + ID_BYTES));
      slot = end;
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  *entries(): IterableIterator<[string, number]> {
    for (let slot = 0; slot < this.count; slot++) yield [this.idAt(slot), this.heightChunks[slot >> CHUNK_SHIFT][slot & CHUNK_MASK]];
  }

  *keys(): IterableIterator<string> {
    for (let slot = 0; slot < this.count; slot++) yield this.idAt(slot);
  }

  [Symbol.iterator](): IterableIterator<[string, number]> {
    return this.entries();
  }

  private fail(why: string): never {
    throw new Error(`event index: ${why}`);
  }

  private slotOf(id: string): number {
    if (this.parse(id)) return this.find();
    return this.oddSlots?.get(id) ?? -1;
  }

  /** Reads a lowercase 64-hex id into `scratch`; false for anything else. */
  private parse(id: string): boolean {
    if (typeof id !== 'string' || id.length !== 2 * ID_BYTES) return false;
    const s = this.scratch;
    for (let i = 0; i < ID_BYTES; i++) {
      const hi = hexValue(id.charCodeAt(2 * i));
      const lo = hexValue(id.charCodeAt(2 * i + 1));
      if ((hi | lo) < 0) return false;
      s[i] = (hi << 4) | lo;
    }
    return true;
  }

  /** The slot holding the id in `scratch`, or -1 (with `freePos` set to where it would go). */
  private find(): number {
    const mask = this.table.length - 1;
    const s = this.scratch;
    for (let pos = hashAt(s, 0) & mask; ; pos = (pos + 1) & mask) {
      const v = this.table[pos];
      if (v === 0) {
        this.freePos = pos;
        return -1;
      }
      const slot = v - 1;
      const chunk = this.idChunks[slot >> CHUNK_SHIFT];
      const off = (slot & CHUNK_MASK) * ID_BYTES;
      let same = true;
      for (let i = 0; i < ID_BYTES; i++) {
        if (chunk[off + i] !== s[i]) {
          same = false;
          break;
        }
      }
      if (same) return slot;
    }
  }

  /** Appends `scratch` with `height` in a new slot, at `freePos` in the table. */
  private insert(height: number): void {
    this.table[this.freePos] = this.count + 1;
    this.append(height);
  }

  private append(height: number): void {
    const slot = this.count;
    const c = slot >> CHUNK_SHIFT;
    if (c === this.idChunks.length) {
      this.idChunks.push(Buffer.allocUnsafeSlow(INDEX_CHUNK_SLOTS * ID_BYTES));
      this.heightChunks.push(new Int32Array(INDEX_CHUNK_SLOTS));
    }
    this.scratch.copy(this.idChunks[c], (slot & CHUNK_MASK) * ID_BYTES);
    this.heightChunks[c][slot & CHUNK_MASK] = height;
    this.count++;
  }

  /** A table for at least `entries` ids at most half full, every hex id placed again. */
  private growTable(entries: number): void {
    let cap = this.table.length;
    while (entries * 2 > cap) cap *= 2;
    if (cap === this.table.length) return;
    const table = new Int32Array(cap);
    const mask = cap - 1;
    for (let slot = 0; slot < this.count; slot++) {
      if (this.oddIds?.has(slot)) continue;
      let pos = hashAt(this.idChunks[slot >> CHUNK_SHIFT], (slot & CHUNK_MASK) * ID_BYTES) & mask;
      while (table[pos] !== 0) pos = (pos + 1) & mask;
      table[pos] = slot + 1;
    }
    this.table = table;
  }
}
