// A hashed snapshot of the derived chain state (issue 14): re-hashing and re-linking a million stored
// events on every open took 27–35 s, while the state a node needs to serve is small. Every
// SNAPSHOT_EVERY heights the append batch that crosses the boundary also writes the derived state as
// it stands after that batch (same atomic, fsync'd batch, so it can never describe events that are not
// on disk). On open the snapshot's digest, its head event (id at its height, own hash) and every event
// after it are checked; the events below it are re-hashed by a background pass (see chain-ledger.ts).
// A snapshot that fails its digest or no longer matches the log is ignored (full check instead): it is
// derived data, never trusted over the events.
import { createHash } from 'node:crypto';
import type { ChainState } from '../protocol/chain-state.js';
import { packMsgpack, unpackMsgpack } from '../protocol/msgpack.js';

export const SNAPSHOT_KEY = 'snapshot';
export const DEFAULT_SNAPSHOT_EVERY = 100_000;
const ID_BYTES = 32;

export interface StoredSnapshot {
  v: 1;
  /** sha256 of `body`. */
  digest: Buffer;
  body: Buffer;
}

interface SnapshotBody {
  length: number;
  head: string;
  /** Event ids in height order, 32 raw bytes each (the id → height index without a string per entry). */
  ids: Buffer;
  nodeSequences: Array<[string, number]>;
  sequenceDomains: Array<[string, number]>;
  keyBindings: Array<[string, string]>;
  revocations: Array<[string, unknown]>;
  spool: Array<[string, unknown]>;
}

/** Does a batch moving the length from `from` to `to` cross a snapshot boundary? */
export const crossesSnapshotBoundary = (from: number, to: number, every: number): boolean => Math.floor(to / every) > Math.floor(from / every);

/** The snapshot record of `state`, encoded now (the state keeps changing before the batch is written). */
export function encodeSnapshot(state: ChainState): StoredSnapshot | null {
  if (state.eventIndex.size !== state.length) return null;
  const ids = Buffer.alloc(state.length * ID_BYTES);
  for (const [id, h] of state.eventIndex) {
    if (h < 0 || h >= state.length || id.length !== 2 * ID_BYTES || ids.write(id, h * ID_BYTES, ID_BYTES, 'hex') !== ID_BYTES) return null;
  }
  const body: SnapshotBody = {
    length: state.length,
    head: state.head,
    ids,
    nodeSequences: [...state.nodeSequences],
    sequenceDomains: [...state.sequenceDomains],
    keyBindings: [...state.keyBindings],
    revocations: [...state.revocations],
    spool: [...state.spool].map(([k, v]) => [k, structuredClone(v)]),
  };
  const bytes = Buffer.from(packMsgpack(body)); // a copy: packMsgpack returns msgpackr's shared buffer
  return { v: 1, digest: createHash('sha256').update(bytes).digest(), body: bytes };
}

export interface DecodedSnapshot {
  /** Heights the snapshot covers (the state object itself moves on once the ledger owns it). */
  length: number;
  state: ChainState;
  /** Event id at a height below the snapshot length (for the background re-hash). */
  idAt(height: number): string;
}

/** The state in a stored snapshot, or null when it is missing, malformed or fails its digest. */
export function decodeSnapshot(stored: unknown): DecodedSnapshot | null {
  try {
    const s = stored as StoredSnapshot;
    if (!s || s.v !== 1 || !(s.body instanceof Uint8Array) || !(s.digest instanceof Uint8Array)) return null;
    const digest = createHash('sha256').update(s.body).digest();
    if (!digest.equals(Buffer.from(s.digest))) return null;
    const b = unpackMsgpack(s.body) as SnapshotBody;
    const ids = Buffer.from(b.ids.buffer, b.ids.byteOffset, b.ids.byteLength);
    if (!Number.isSafeInteger(b.length) || ids.length !== b.length * ID_BYTES) return null;
    // One hex conversion for the whole index, then a 64-char slice per id: a native call per id cost
    // ~6 µs each (6 s at 1M events); the slices share the one flat string (~64 MiB at 1M).
    const hex = ids.toString('hex');
    const idAt = (h: number): string => hex.slice(h * 2 * ID_BYTES, (h + 1) * 2 * ID_BYTES);
    const eventIndex = new Map<string, number>();
    for (let h = 0; h < b.length; h++) eventIndex.set(idAt(h), h);
    if (b.length > 0 && idAt(b.length - 1) !== b.head) return null;
    const state: ChainState = {
      length: b.length,
      head: b.head,
      eventIndex,
      nodeSequences: new Map(b.nodeSequences),
      sequenceDomains: new Map(b.sequenceDomains),
      keyBindings: new Map(b.keyBindings),
      revocations: new Map(b.revocations as Array<[string, never]>),
      spool: new Map(b.spool as Array<[string, never]>),
    };
    return { length: b.length, state, idAt };
  } catch {
    return null;
  }
}
