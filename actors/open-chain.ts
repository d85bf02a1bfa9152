// Opening a data directory's chain: the database, then the chain actor (which verifies the store).
// A store that cannot be read — LevelDB refuses to open it, a table fails while the chain is rebuilt,
// or the §3.2 integrity check fails — is refused with the cause and every file kept, unless the caller
// asked to quarantine it: then it is moved aside (never deleted) and a fresh store starts (T74).
import type { Clock } from '../protocol/clock.js';
import { ErrorCodes, isInfonetError } from '../protocol/errors.js';
import type { ChainSettings } from '../protocol/settings.js';
import { quarantineDatabase } from '../store/chain-store.js';
import { openDatabase, storeExists, unreadableStoreError, type Db } from '../store/db.js';
import { ChainActor } from './chain-actor.js';

export interface OpenedChain {
  db: Db;
  chain: ChainActor;
  /** Where an unreadable store was moved, when --quarantine-corrupt was used. */
  quarantined?: string;
  close(): Promise<void>;
}

export interface OpenChainOptions {
  settings: ChainSettings;
  clock?: Clock;
  quarantineCorrupt?: boolean;
  /** Read-only commands: open a snapshot, never change the store (see store/db.ts). */
  readOnly?: boolean;
  /** Heights between derived-state snapshots (tests; see store/chain-snapshot.ts). */
  snapshotEvery?: number;
}

async function openOnce(dataDir: string, opts: OpenChainOptions): Promise<{ db: Db; chain: ChainActor }> {
  const db = await openDatabase(dataDir, { readOnly: opts.readOnly === true });
  try {
    return { db, chain: await ChainActor.start({ db, settings: opts.settings, clock: opts.clock, ...(opts.snapshotEvery !== undefined ? { snapshotEvery: opts.snapshotEvery } : {}) }) };
  } catch (e) {
    await db.close().catch(() => undefined);
    // A LevelDB read failure while rebuilding (e.g. a truncated table) is an unreadable store too.
    throw isInfonetError(e) ? e : unreadableStoreError(dataDir, e);
  }
}

export async function openChainAt(dataDir: string, opts: OpenChainOptions): Promise<OpenedChain> {
  let opened: { db: Db; chain: ChainActor };
  let quarantined: string | undefined;
  try {
    opened = await openOnce(dataDir, opts);
  } catch (e) {
    const unreadable = isInfonetError(e) && e.code === ErrorCodes.STORE_CORRUPT;
    if (!(unreadable && opts.quarantineCorrupt && !opts.readOnly && storeExists(dataDir))) throw e;
    quarantined = quarantineDatabase(dataDir);
    opened = await openOnce(dataDir, opts);
  }
  const { db, chain } = opened;
  return {
    db,
    chain,
    ...(quarantined ? { quarantined } : {}),
    close: async () => {
      await chain.stop();
      await db.close();
    },
  };
}
