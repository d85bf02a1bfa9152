// One LevelDB per data directory (<data>/db). Each subsystem owns a sublevel (chain, mailbox, outbox,
// meta, ...) with msgpack values, so a batch across subsystems is still one atomic LevelDB write.
// The root stores raw buffers: the group committer writes pre-packed values with prefixed keys through
// a chained batch, ~2.5x faster than abstract-level's array batch with sublevel transcoding (measured).
import { copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { ErrorCodes, InfonetError } from '../protocol/errors.js';
import { packMsgpack, unpackMsgpack } from '../protocol/msgpack.js';

// The project's one msgpackr setup (plain maps/objects, no records): values must stay readable by any
// later version of the node.
export const packValue = (v: unknown): Buffer => packMsgpack(v);

export const msgpackEncoding = {
  name: 'msgpackr',
  format: 'buffer' as const,
  encode: (v: unknown): Buffer => packMsgpack(v),
  decode: (b: Buffer): unknown => unpackMsgpack(b),
};

export type Db = Level<string, Buffer>;
export type Sublevel = ReturnType<Db['sublevel']> & { get(k: string): Promise<unknown> };

/** Written into db/ when this node creates a store: from then on the directory is never re-created. */
export const STORE_MARKER = 'INFONET_STORE';
/** Files that only LevelDB writes: their presence means a store lives here, even without our marker. */
const LEVELDB_FILE = /^(?:CURRENT|MANIFEST-\d+|\d+\.(?:ldb|sst|log))$/;

export interface OpenOptions {
  /**
   * Never change the store (read-only commands such as `chain export`, `dm count`). LevelDB has no
   * read-only open (opening replays the log into a new table and manifest), so this opens a snapshot:
   * table files hard-linked (they are immutable), the few others copied, removed again on close.
   */
  readOnly?: boolean;
}

export const storeDir = (dataDir: string): string => join(dataDir, 'db');

/** Does `dataDir` hold a store (marked, or with LevelDB files from before the marker existed)? */
export function storeExists(dataDir: string): boolean {
  const dir = storeDir(dataDir);
  if (!existsSync(dir)) return false;
  return readdirSync(dir).some((f) => f === STORE_MARKER || LEVELDB_FILE.test(f));
}

/**
 * The innermost message of an error chain, on one line: LevelDB's own words ("Corruption: 1 missing
 * files", "IO error: …/MANIFEST-000004: No such file or directory") sit under "Database failed to open".
 */
export function levelCause(e: unknown): string {
  let cur = e as { message?: string; cause?: unknown } | undefined;
  let msg = String((cur && cur.message) || e);
  for (let depth = 0; cur && depth < 10; depth++) {
    if (cur.message) msg = cur.message;
    cur = cur.cause as typeof cur;
  }
  return msg.replace(/\s+/g, ' ').trim();
}

export const isLockedError = (e: unknown): boolean => {
  const err = e as { code?: string; cause?: { code?: string } };
  return err?.cause?.code === 'LEVEL_LOCKED' || err?.code === 'LEVEL_LOCKED';
};

/** Why a store will not open, naming LevelDB's cause and what was (not) done about it. */
export function unreadableStoreError(dataDir: string, e: unknown): InfonetError {
  const dir = storeDir(dataDir);
  const hint = existsSync(dir) && !existsSync(join(dir, 'CURRENT')) ? ' (db/CURRENT is missing)' : '';
  return new InfonetError(
    ErrorCodes.STORE_CORRUPT,
    `cannot read the store in ${dir}: ${levelCause(e)}${hint}; every file was kept ` +
      '(start with --quarantine-corrupt to move it aside and start fresh)',
    { cause: levelCause(e) },
  );
}

function snapshotCopy(dataDir: string): string {
  const src = storeDir(dataDir);
  const root = mkdtempSync(join(tmpdir(), 'infonet-ro-'));
  try {
    copyStoreFiles(src, join(root, 'db'));
  } catch (e) {
    rmSync(root, { recursive: true, force: true });
    throw e;
  }
  return root;
}

function copyStoreFiles(src: string, dst: string): void {
  mkdirSync(dst);
  for (const f of readdirSync(src)) {
    if (f === 'LOCK' || f.startsWith('LOG')) continue;
    const from = join(src, f);
    if (/\.(?:ldb|sst)$/.test(f)) {
      try {
        linkSync(from, join(dst, f));
        continue;
      } catch { /* another filesystem: copy */ }
    }
    copyFileSync(from, join(dst, f));
  }
}

/** A running node may compact (delete a table) while we copy: try again a few times, then say so. */
function snapshotWithRetry(dataDir: string): string {
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return snapshotCopy(dataDir);
    } catch (e) {
      last = e;
    }
  }
  throw new InfonetError(ErrorCodes.UNAVAILABLE, `cannot take a read-only snapshot of ${storeDir(dataDir)}: ${levelCause(last)}`);
}

/**
 * LevelDB keeps every open table file memory-mapped (up to 1000 on 64-bit), and each page read once stays
 * in the process's RSS until the table leaves the table cache: one pass over a 1M-event log (the
 * background re-hash, an export) added ~560 MiB of file-backed RSS. The smallest table cache LevelDB
 * allows (74 open files, 10 of them for logs and manifests) bounds that to ~130 MiB of ~2 MiB tables; a
 * table opened again costs a footer and index read from the page cache.
 */
export const MAX_OPEN_FILES = 74;

/**
 * Opens `<dataDir>/db`. A new store is created only where none exists (and marked); an existing one is
 * opened without createIfMissing, so a lost CURRENT or MANIFEST is reported instead of silently
 * replaced by an empty store (LevelDB would then delete the old tables as obsolete; issue 8 item 2).
 */
export async function openDatabase(dataDir: string, opts: OpenOptions = {}): Promise<Db> {
  const exists = storeExists(dataDir);
  if (opts.readOnly) {
    if (!exists) throw new InfonetError(ErrorCodes.NOT_FOUND, `no infonet store in ${dataDir}`);
    const root = snapshotWithRetry(dataDir);
    const db = new Level<string, Buffer>(join(root, 'db'), { valueEncoding: 'buffer', createIfMissing: false, maxOpenFiles: MAX_OPEN_FILES });
    db.once('closed', () => rmSync(root, { recursive: true, force: true }));
    try {
      await db.open();
    } catch (e) {
      rmSync(root, { recursive: true, force: true });
      throw unreadableStoreError(dataDir, e);
    }
    return db;
  }
  mkdirSync(dataDir, { recursive: true });
  const db = new Level<string, Buffer>(storeDir(dataDir), { valueEncoding: 'buffer', createIfMissing: !exists, maxOpenFiles: MAX_OPEN_FILES });
  try {
    await db.open();
  } catch (e) {
    if (isLockedError(e)) {
      throw new InfonetError(ErrorCodes.STORE_LOCKED, `data directory in use: ${dataDir} is opened by another infonet process`);
    }
    throw unreadableStoreError(dataDir, e);
  }
  const marker = join(storeDir(dataDir), STORE_MARKER);
  if (!existsSync(marker)) writeFileSync(marker, JSON.stringify({ created: new Date().toISOString(), adopted: exists }) + '\n');
  return db;
}

export function sublevel(db: Db, name: string): Sublevel {
  return db.sublevel<string, unknown>(name, { valueEncoding: msgpackEncoding as never }) as unknown as Sublevel;
}

/** The key prefix abstract-level gives a sublevel of the root (`!name!`). */
export const sublevelPrefix = (s: unknown): string => (s as { prefix: string }).prefix;

/** Zero-padded decimal so LevelDB's lexicographic order is numeric order. */
export const heightKey = (n: number): string => n.toString().padStart(12, '0');
