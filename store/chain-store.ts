// The durable chain: event log by height, and the persisted parts of the derived
// state (DM and signed-write sequence domains, §3.2) in LevelDB. Every append, ingest batch or fork is
// one atomic batch, acknowledged only once it is fsync'd (group commit). Lookups by event_id use the in-memory index
// (protocol/event-index.ts, checkpointed with the derived-state snapshot): the `chain-id` sublevel (event_id →
// height) that earlier versions wrote for every event was never read, and its random keys cost LevelDB compaction
// work at every level (issue 14); it is no longer written, and what older stores hold is deleted with a fork.
import { renameSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { GENESIS_HASH } from '../protocol/constants.js';
import { ErrorCodes, InfonetError } from '../protocol/errors.js';
import type { ChainEvent } from '../protocol/event.js';
import { eventIdWithTimestampText } from '../protocol/event-id.js';
import { payloadJsonOf, timestampText } from '../protocol/event.js';
import { heightKey, sublevel, type Db, type Sublevel } from './db.js';
import { GroupCommitter, type BatchOp } from './group-commit.js';
import type { ChainState } from '../protocol/chain-state.js';
import { crossesSnapshotBoundary, decodeSnapshot, DEFAULT_SNAPSHOT_EVERY, encodeSnapshot, idChunkCount, SNAPSHOT_KEY, snapshotIdsKey, type DecodedSnapshot } from './chain-snapshot.js';
import { INDEX_CHUNK_SLOTS } from '../protocol/event-index.js';

export interface ChainHeader {
  length: number;
  head: string;
}

/** What readMeta() gives: the header and every persisted domain counter. */
export interface ChainMeta extends ChainHeader {
  dmDomains: Record<string, number>;
  signedWrites: Record<string, number>;
}

/** A persisted sequence-domain counter, `<node id>|<domain>` → last sequence (§3.2: DM domains, signed writes). */
export type DomainCounter = readonly [key: string, value: number];

/** What one write stores besides events: the header, and the domain counters that changed. */
export interface ChainMetaUpdate extends ChainHeader {
  domains?: readonly DomainCounter[];
}

const META_KEY = 'chain';
// Each domain counter is a key of its own (`dom|<node id>|<domain>`), written only when it moves (issue 14). Stores
// written before kept them all in the header record, rewritten with every append, ingest batch and signed poll:
// O(authors) per write. Those tables are still read; the ledger's first write moves them to keys of their own.
const DOMAIN_PREFIX = 'dom|';
const DOMAIN_END = 'dom}';

export class ChainStore {
  readonly events: Sublevel;
  /** event_id → height, written by earlier versions only (see above). */
  readonly ids: Sublevel;
  readonly meta: Sublevel;
  readonly committer: GroupCommitter;

  /** Heights between derived-state snapshots (store/chain-snapshot.ts). */
  readonly snapshotEvery: number;

  constructor(readonly db: Db, committer?: GroupCommitter, opts: { snapshotEvery?: number } = {}) {
    this.events = sublevel(db, 'chain-ev');
    this.ids = sublevel(db, 'chain-id');
    this.meta = sublevel(db, 'chain-meta');
    this.committer = committer ?? new GroupCommitter(db);
    this.snapshotEvery = opts.snapshotEvery ?? DEFAULT_SNAPSHOT_EVERY;
  }

  /**
   * Digests of the full snapshot id chunks on disk that match the log (written by this process, or
   * adopted with a snapshot the ledger accepted at open): the next snapshot does not write them again.
   */
  private storedIdChunks: Buffer[] = [];

  /** The stored derived-state snapshot, or null when there is none or it fails a digest. */
  async readSnapshot(): Promise<DecodedSnapshot | null> {
    return decodeSnapshot(await this.meta.get(SNAPSHOT_KEY), (k) => this.meta.get(snapshotIdsKey(k)));
  }

  /** The ledger opened from `snap` (its head matched the log): its full id chunks need no rewrite. */
  adoptSnapshot(snap: DecodedSnapshot): void {
    this.storedIdChunks = snap.fullChunkDigests;
  }

  async readMeta(): Promise<ChainMeta> {
    const m = (await this.meta.get(META_KEY)) as Partial<ChainMeta> | undefined;
    const dmDomains: Record<string, number> = { ...(m?.dmDomains ?? {}) };
    const signedWrites: Record<string, number> = { ...(m?.signedWrites ?? {}) };
    this.legacyDomainTables = Object.keys(dmDomains).length + Object.keys(signedWrites).length > 0;
    for await (const [k, v] of this.meta.iterator({ gte: DOMAIN_PREFIX, lt: DOMAIN_END }) as AsyncIterable<[string, number]>) {
      const key = k.slice(DOMAIN_PREFIX.length);
      if (key.endsWith('|dm_message')) dmDomains[key] = v;
      else signedWrites[key] = v;
    }
    return { length: m?.length ?? 0, head: m?.head ?? GENESIS_HASH, dmDomains, signedWrites };
  }

  /** True after readMeta() found the domain tables of an older store in the header (the next write moves them). */
  legacyDomainTables = false;

  /**
   * Operations that append `events` at `fromHeight` and move the head (no I/O). `after` is the derived
   * state once they are applied: a batch crossing a snapshot boundary carries its snapshot too.
   */
  appendOps(fromHeight: number, events: readonly ChainEvent[], meta: ChainMetaUpdate, after?: ChainState): BatchOp[] {
    const ops: BatchOp[] = [];
    events.forEach((ev, i) => {
      ops.push({ type: 'put', sublevel: this.events, key: heightKey(fromHeight + i), value: ev });
    });
    const header: ChainHeader = { length: meta.length, head: meta.head };
    ops.push({ type: 'put', sublevel: this.meta, key: META_KEY, value: header });
    for (const [key, value] of meta.domains ?? []) ops.push({ type: 'put', sublevel: this.meta, key: DOMAIN_PREFIX + key, value });
    if (after && after.length === fromHeight + events.length && crossesSnapshotBoundary(fromHeight, after.length, this.snapshotEvery)) {
      const snap = encodeSnapshot(after, this.storedIdChunks);
      if (snap) {
        for (const { k, ids } of snap.chunks) ops.push({ type: 'put', sublevel: this.meta, key: snapshotIdsKey(k), value: ids });
        ops.push({ type: 'put', sublevel: this.meta, key: SNAPSHOT_KEY, value: snap.record });
        this.storedIdChunks = snap.chunkDigests.slice(0, Math.floor(after.length / INDEX_CHUNK_SLOTS));
      }
    }
    return ops;
  }

  /** Operations that drop heights >= fromHeight (fork / reset); the caller knows the dropped ids. */
  truncateOps(fromHeight: number, droppedIds: readonly string[], oldLength: number): BatchOp[] {
    const ops: BatchOp[] = [];
    for (let h = fromHeight; h < oldLength; h++) ops.push({ type: 'del', sublevel: this.events, key: heightKey(h) });
    for (const id of droppedIds) ops.push({ type: 'del', sublevel: this.ids, key: id });
    // A snapshot may describe dropped heights: the next boundary writes a fresh one (all its id chunks).
    ops.push({ type: 'del', sublevel: this.meta, key: SNAPSHOT_KEY });
    for (let k = Math.floor(fromHeight / INDEX_CHUNK_SLOTS); k < idChunkCount(oldLength); k++) ops.push({ type: 'del', sublevel: this.meta, key: snapshotIdsKey(k) });
    this.storedIdChunks = [];
    return ops;
  }

  write(ops: BatchOp[]): Promise<void> {
    return this.committer.write(ops);
  }

  /** Events from `from` up to `to`, decoded `readBatch` at a time (small batches die young in V8's heap). */
  async *iterate(from = 0, to = Infinity, readBatch = 1000): AsyncGenerator<ChainEvent> {
    // keys: false — every reader wants the events only; decoding the height keys cost ~5 µs/event (sync serving, issue 14).
    const it = this.events.iterator({ gte: heightKey(from), ...(Number.isFinite(to) ? { lt: heightKey(to) } : {}), keys: false });
    try {
      for (;;) {
        const batch = (await it.nextv(readBatch)) as Array<[string, ChainEvent]>;
        if (batch.length === 0) return;
        for (const [, ev] of batch) yield ev;
      }
    } finally {
      await it.close();
    }
  }

  async readRange(from: number, limit: number): Promise<ChainEvent[]> {
    // One nextv per 1000 events, without iterate()'s async generator (a promise per event).
    const to = from + limit;
    const it = this.events.iterator({ gte: heightKey(from), ...(Number.isFinite(to) ? { lt: heightKey(to) } : {}), keys: false });
    const out: ChainEvent[] = [];
    try {
      for (;;) {
        const batch = (await it.nextv(1000)) as Array<[unknown, ChainEvent]>;
        if (batch.length === 0) return out;
        for (const [, ev] of batch) out.push(ev);
      }
    } finally {
      await it.close();
    }
  }

}

/** Re-hash and re-link every stored event (§3.2.1); returns the first bad height and why, or null. */
export function checkStoredEvent(ev: ChainEvent, expectedPrev: string): string | null {
  if (!ev || typeof ev !== 'object') return 'unreadable event';
  if (ev.prev_hash !== expectedPrev) return 'prev_hash does not link to the previous event';
  try {
    if (eventIdWithTimestampText(ev, timestampText(ev), payloadJsonOf(ev)) !== ev.event_id) return 'Hash mismatch';
  } catch {
    return 'unreadable event';
  }
  return null;
}

/** Move a corrupt database aside (`db.quarantine.<unix>`) so the node can start from genesis and re-sync (T74). */
export function quarantineDatabase(dataDir: string): string {
  let aside = join(dataDir, `db.quarantine.${Math.floor(Date.now() / 1000)}`);
  for (let i = 1; existsSync(aside); i++) aside = join(dataDir, `db.quarantine.${Math.floor(Date.now() / 1000)}.${i}`);
  renameSync(join(dataDir, 'db'), aside);
  return aside;
}

export function corruptStoreError(dataDir: string, height: number, problem: string): InfonetError {
  return new InfonetError(
    ErrorCodes.STORE_CORRUPT,
    `chain store integrity check failed at height ${height}: ${problem} (refusing to open ${dataDir}; ` +
      'start with --quarantine-corrupt to move it aside and re-sync)',
    { height },
  );
}
