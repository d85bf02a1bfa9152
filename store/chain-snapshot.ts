// A hashed snapshot of the derived chain state (issue 14): re-hashing and re-linking a million stored
// events on every open took 27–35 s, while the state a node needs to serve is small. Every
// SNAPSHOT_EVERY heights the append batch that crosses the boundary also writes the derived state as
// it stands after that batch (same atomic, fsync'd batch, so it can never describe events that are not
// on disk). On open the snapshot's digest, its head event (id at its height, own hash) and every event
// after it are checked; the events below it are re-hashed by a background pass (see chain-ledger.ts).
// A snapshot that fails its digest or no longer matches the log is ignored (full check instead): it is
// derived data, never trusted over the events.
//
// Version 2 keeps the id index (32 bytes per height, 32 MiB at 1M) out of the record: it is stored in
// chunks of INDEX_CHUNK_SLOTS heights under their own keys, each named with its sha256 in the hashed
// record. Heights below a snapshot never change (a fork deletes the snapshot and its chunks), so a new
// snapshot writes only the chunks that changed since the last one: ~3 MiB per 100,000 heights instead
// of the whole index copied several times over (msgpack, LevelDB batch, memtable) in one batch.
// Version 1 records (ids inside the body) are still read.
import { createHash } from 'node:crypto';
import type { ChainState } from '../protocol/chain-state.js';
import { EventIndex, INDEX_CHUNK_SLOTS } from '../protocol/event-index.js';
import { packMsgpack, unpackMsgpack } from '../protocol/msgpack.js';

export const SNAPSHOT_KEY = 'snapshot';
export const DEFAULT_SNAPSHOT_EVERY = 100_000;
const ID_BYTES = 32;

/** Key of the id chunk holding heights [k·INDEX_CHUNK_SLOTS, (k+1)·INDEX_CHUNK_SLOTS). */
export const snapshotIdsKey = (k: number): string => `snapshot-ids/${k.toString().padStart(8, '0')}`;
/** Number of id chunks for `length` heights. */
export const idChunkCount = (length: number): number => Math.ceil(length / INDEX_CHUNK_SLOTS);

export interface StoredSnapshot {
  v: 1 | 2;
  /** sha256 of `body`. */
  digest: Buffer;
  body: Buffer;
}

interface SnapshotBody {
  length: number;
  head: string;
  /** v1: event ids in height order, 32 raw bytes each. */
  ids?: Buffer;
  /** v2: sha256 of each id chunk, in order. */
  idChunks?: Buffer[];
  nodeSequences: Array<[string, number]>;
  sequenceDomains: Array<[string, number]>;
  keyBindings: Array<[string, string]>;
  revocations: Array<[string, unknown]>;
  spool: Array<[string, unknown]>;
}

/** Does a batch moving the length from `from` to `to` cross a snapshot boundary? */
export const crossesSnapshotBoundary = (from: number, to: number, every: number): boolean => Math.floor(to / every) > Math.floor(from / every);

const sha256 = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();

export interface EncodedSnapshot {
  record: StoredSnapshot;
  /** Id chunks to write with it (the ones not already stored), by chunk number. */
  chunks: Array<{ k: number; ids: Buffer }>;
  /** Digests of every chunk the record names. */
  chunkDigests: Buffer[];
}

/**
 * The snapshot of `state`, encoded now (the state keeps changing before the batch is written).
 * `stored` are the digests of full chunks already written and still valid; they are not written again.
 */
export function encodeSnapshot(state: ChainState, stored: readonly Buffer[] = []): EncodedSnapshot | null {
  if (state.eventIndex.size !== state.length) return null;
  const chunkDigests: Buffer[] = [];
  const chunks: EncodedSnapshot['chunks'] = [];
  for (let k = 0; k < idChunkCount(state.length); k++) {
    const from = k * INDEX_CHUNK_SLOTS;
    const to = Math.min(state.length, from + INDEX_CHUNK_SLOTS);
    if (k < stored.length && to - from === INDEX_CHUNK_SLOTS) {
      chunkDigests.push(stored[k]);
      continue;
    }
    // a copy: the index's own chunk goes on filling while the batch waits for its fsync
    const view = state.eventIndex.idBytes(from, to);
    if (!view) return null;
    const ids = Buffer.from(view);
    chunks.push({ k, ids });
    chunkDigests.push(sha256(ids));
  }
  const body: SnapshotBody = {
    length: state.length,
    head: state.head,
    idChunks: chunkDigests,
    nodeSequences: [...state.nodeSequences],
    sequenceDomains: [...state.sequenceDomains],
    keyBindings: [...state.keyBindings],
    revocations: [...state.revocations],
    spool: [...state.spool], // packed below, before the state can change: no deep copy needed
  };
  const bytes = Buffer.from(packMsgpack(body)); // a copy: packMsgpack returns msgpackr's shared buffer
  return { record: { v: 2, digest: sha256(bytes), body: bytes }, chunks, chunkDigests };
}

export interface DecodedSnapshot {
  /** Heights the snapshot covers (the state object itself moves on once the ledger owns it). */
  length: number;
  state: ChainState;
  /** Event id at a height below the snapshot length (for the background re-hash). */
  idAt(height: number): string;
  /** Digests of the full id chunks it was built from (still valid while the snapshot is). */
  fullChunkDigests: Buffer[];
}

/**
 * The state in a stored snapshot, or null when it is missing, malformed or fails a digest.
 * `readChunk(k)` gives the stored id chunk k (v2).
 */
export async function decodeSnapshot(stored: unknown, readChunk: (k: number) => Promise<unknown>): Promise<DecodedSnapshot | null> {
  try {
    const s = stored as StoredSnapshot;
    if (!s || (s.v !== 1 && s.v !== 2) || !(s.body instanceof Uint8Array) || !(s.digest instanceof Uint8Array)) return null;
    if (!sha256(s.body).equals(Buffer.from(s.digest))) return null;
    const b = unpackMsgpack(s.body) as SnapshotBody;
    if (!Number.isSafeInteger(b.length) || b.length < 0) return null;
    let eventIndex: EventIndex;
    let fullChunkDigests: Buffer[] = [];
    if (s.v === 1) {
      if (!(b.ids instanceof Uint8Array) || b.ids.byteLength !== b.length * ID_BYTES) return null;
      eventIndex = EventIndex.fromIdBytes(b.ids);
    } else {
      if (!Array.isArray(b.idChunks) || b.idChunks.length !== idChunkCount(b.length)) return null;
      eventIndex = new EventIndex();
      for (let k = 0; k < b.idChunks.length; k++) {
        const ids = await readChunk(k);
        const want = Math.min(INDEX_CHUNK_SLOTS, b.length - k * INDEX_CHUNK_SLOTS) * ID_BYTES;
        if (!(ids instanceof Uint8Array) || ids.byteLength !== want || !sha256(ids).equals(Buffer.from(b.idChunks[k]))) return null;
        eventIndex.appendIds(ids);
      }
      fullChunkDigests = b.idChunks.slice(0, Math.floor(b.length / INDEX_CHUNK_SLOTS)).map((d) => Buffer.from(d));
    }
    if (eventIndex.size !== b.length) return null;
    if (b.length > 0 && eventIndex.idAt(b.length - 1) !== b.head) return null;
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
    return { length: b.length, state, idAt: (h) => eventIndex.idAt(h), fullChunkDigests };
  } catch {
    return null;
  }
}
