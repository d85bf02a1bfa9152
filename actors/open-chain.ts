// Opening a data directory's chain: the database, then the chain actor (which verifies the store).
import type { Clock } from '../protocol/clock.js';
import { ErrorCodes, isInfonetError } from '../protocol/errors.js';
import type { ChainSettings } from '../protocol/settings.js';
import { quarantineDatabase } from '../store/chain-store.js';
import { openDatabase, type Db } from '../store/db.js';
import { ChainActor } from './chain-actor.js';

export interface OpenedChain {
  db: Db;
  chain: ChainActor;
  /** Where a corrupt store was moved, when --quarantine-corrupt was used. */
  quarantined?: string;
  close(): Promise<void>;
}

export async function openChainAt(dataDir: string, opts: { settings: ChainSettings; clock?: Clock; quarantineCorrupt?: boolean }): Promise<OpenedChain> {
  let db = await openDatabase(dataDir);
  let quarantined: string | undefined;
  let chain: ChainActor;
  try {
    chain = await ChainActor.start({ db, settings: opts.settings, clock: opts.clock });
  } catch (e) {
    await db.close();
    if (!(isInfonetError(e) && e.code === ErrorCodes.STORE_CORRUPT && opts.quarantineCorrupt)) throw e;
    quarantined = quarantineDatabase(dataDir);
    db = await openDatabase(dataDir);
    chain = await ChainActor.start({ db, settings: opts.settings, clock: opts.clock });
  }
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
