// Chain locators and locator matching for sync (spec §9.3). Written over index accessors so a
// store-backed chain can answer without materialising every event id.
import { GENESIS_HASH } from './constants.js';

export const LOCATOR_MAX = 32;
const DENSE_ENTRIES = 10;

/** Read access to a chain's event ids, oldest first. */
export interface ChainIds {
  readonly length: number;
  idAt(index: number): string;
}

/**
 * Chain indices a locator names, newest first: step 1 for the first 10, then doubling, at most
 * `max − 1` of them (genesis takes the last slot). A store with async reads fetches these few ids itself.
 */
export function locatorIndices(length: number, max = LOCATOR_MAX): number[] {
  const out: number[] = [];
  let step = 1;
  for (let i = length - 1; i >= 0 && out.length < max - 1; i -= step) {
    out.push(i);
    if (out.length >= DENSE_ENTRIES) step *= 2;
  }
  return out;
}

/** `get_locator`: sampled ids from the head back, always ending with GENESIS_HASH. */
export function buildLocator(chain: readonly string[] | ChainIds, max = LOCATOR_MAX): string[] {
  const idAt = Array.isArray(chain) ? (i: number) => (chain as readonly string[])[i] : (i: number) => (chain as ChainIds).idAt(i);
  return [...locatorIndices(chain.length, max).map(idAt), GENESIS_HASH];
}

export interface LocatorMatch {
  /** The locator entry that matched; '' when none did. */
  matchedHash: string;
  /** Chain index of the first event to serve; -1 when nothing matched (serve nothing). */
  startIndex: number;
  forked: boolean;
}

/** A locator entry resolved: its chain index, or -1 when unknown. */
export type IndexOf = (id: string) => number;

function decide(entry: unknown, index: number, locatorLength: number): LocatorMatch | null {
  if (entry === GENESIS_HASH) return { matchedHash: GENESIS_HASH, startIndex: 0, forked: locatorLength > 1 };
  if (index >= 0) return { matchedHash: entry as string, startIndex: index + 1, forked: false };
  return null;
}

const NO_MATCH: LocatorMatch = { matchedHash: '', startIndex: -1, forked: true };

/**
 * Serving side of §9.3: the first locator entry we know decides where to start. Falling back to genesis
 * with a longer locator means the peer's recent history is unknown here, so `forked` is reported.
 * Non-string entries are skipped (the locator comes off the wire).
 */
export function matchLocator(locator: readonly unknown[], indexOf: IndexOf): LocatorMatch {
  for (const entry of locator) {
    if (typeof entry !== 'string') continue;
    const found = decide(entry, entry === GENESIS_HASH ? -1 : indexOf(entry), locator.length);
    if (found) return found;
  }
  return { ...NO_MATCH };
}

/** matchLocator for stores whose lookups are asynchronous; entries are looked up one at a time, in order. */
export async function matchLocatorAsync(
  locator: readonly unknown[],
  indexOf: (id: string) => Promise<number>,
): Promise<LocatorMatch> {
  for (const entry of locator) {
    if (typeof entry !== 'string') continue;
    const found = decide(entry, entry === GENESIS_HASH ? -1 : await indexOf(entry), locator.length);
    if (found) return found;
  }
  return { ...NO_MATCH };
}
