// Path table (rns-wire.md §7 "Then", §12): per destination the next hop (a transport id, or the destination
// itself for a direct neighbour), the distance, an expiry 7 days after the accepted announce, the interface it
// came from and the last ~64 random_hash values. A replayed announce (known random_hash) never refreshes a path;
// a new one replaces the path only when it was emitted later or the old path has expired.
import { PATH_EXPIRY_MS } from './constants.js';

export interface PathEntry {
  destinationHash: Buffer;
  nextHop: Buffer;
  hops: number;
  expiresAtMs: number;
  interfaceId: string;
  /** Emission time (s) of the newest accepted announce. */
  newestEmissionS: number;
  randomHashes: string[];
}

export type PathDecision = 'accepted' | 'replay' | 'stale';

const RANDOM_HASH_MEMORY = 64;

export class PathTable {
  private readonly paths = new Map<string, PathEntry>();

  constructor(
    private readonly capacity = 4_096,
    private readonly expiryMs = PATH_EXPIRY_MS,
  ) {}

  consider(
    a: { destinationHash: Buffer; randomHash: Buffer; emittedAtS: number },
    route: { hops: number; transportId: Buffer | null; interfaceId: string },
    nowMs: number,
  ): PathDecision {
    const key = a.destinationHash.toString('hex');
    const rh = a.randomHash.toString('hex');
    const old = this.paths.get(key);
    if (old) {
      if (old.randomHashes.includes(rh)) return 'replay';
      const expired = old.expiresAtMs <= nowMs;
      if (!expired && a.emittedAtS <= old.newestEmissionS) {
        old.randomHashes.push(rh);
        if (old.randomHashes.length > RANDOM_HASH_MEMORY) old.randomHashes.shift();
        return 'stale';
      }
    }
    const hashes = old ? [...old.randomHashes, rh].slice(-RANDOM_HASH_MEMORY) : [rh];
    this.paths.delete(key);
    this.paths.set(key, {
      destinationHash: Buffer.from(a.destinationHash),
      nextHop: Buffer.from(route.transportId ?? a.destinationHash),
      hops: route.hops,
      expiresAtMs: nowMs + this.expiryMs,
      interfaceId: route.interfaceId,
      newestEmissionS: Math.max(a.emittedAtS, old?.newestEmissionS ?? 0),
      randomHashes: hashes,
    });
    if (this.paths.size > this.capacity) this.paths.delete(this.paths.keys().next().value as string);
    return 'accepted';
  }

  /** The live path, or null when none or expired. */
  lookup(destinationHash: Buffer, nowMs: number): PathEntry | null {
    const e = this.paths.get(destinationHash.toString('hex'));
    return e && e.expiresAtMs > nowMs ? e : null;
  }

  /** Forget a path (e.g. its interface went away). */
  drop(destinationHash: Buffer): void {
    this.paths.delete(destinationHash.toString('hex'));
  }

  /** Paths learnt over one interface become unusable when it closes; their random hashes are kept. */
  expireInterface(interfaceId: string, nowMs: number): void {
    for (const e of this.paths.values()) if (e.interfaceId === interfaceId) e.expiresAtMs = Math.min(e.expiresAtMs, nowMs);
  }

  live(nowMs: number): PathEntry[] {
    return [...this.paths.values()].filter((e) => e.expiresAtMs > nowMs);
  }
}
