// The per-agent nonce cache of signed mailbox requests (spec §7.3, §7.6): `MESH_DM_NONCE_TTL_S` replay window,
// `MESH_DM_NONCE_PER_AGENT_MAX` nonces per agent, `MESH_DM_NONCE_CACHE_MAX` in total.
// Bounds (docs/bounds.md): an agent that fills its own budget is refused (`nonce cache at capacity`) — its flood
// only hurts itself; when the global budget is full the oldest entries are trimmed, other agents' first, so many
// throw-away keys cannot lock a real recipient out. A trimmed nonce is still covered by the persisted dm_poll /
// dm_count sequence domain, which refuses any replayed request anyway; the cache is the second lock, kept in memory.
// Pure: callers pass `now` (seconds).
import { ErrorCodes, reject, type Rejection } from './errors.js';

export interface NonceCacheLimits {
  ttlS: number;
  perAgentMax: number;
  cacheMax: number;
}

interface Entry {
  agent: string;
  nonce: string;
  expires: number;
}

const entryKey = (agent: string, nonce: string): string => `${agent}\n${nonce}`;

export class NonceCache {
  /** Every entry in insertion order (≈ age order), for global trimming. */
  private readonly all = new Map<string, Entry>();
  private readonly perAgent = new Map<string, number>();

  constructor(readonly limits: NonceCacheLimits) {}

  get size(): number {
    return this.all.size;
  }

  countFor(agent: string): number {
    return this.perAgent.get(agent) ?? 0;
  }

  /**
   * Checks and records in one synchronous step (so two concurrent requests with one nonce cannot both pass).
   * `requestTime` is the request's own timestamp: the nonce is remembered until that request could no longer be
   * accepted (max(now, requestTime) + ttl).
   */
  admit(agent: string, nonce: string, now: number, requestTime = now): Rejection | null {
    if (!nonce) return reject(ErrorCodes.NONCE, 'Missing nonce');
    this.purge(now);
    const k = entryKey(agent, nonce);
    if (this.all.has(k)) return reject(ErrorCodes.NONCE, 'nonce replay detected');
    if (this.countFor(agent) >= this.limits.perAgentMax) return reject(ErrorCodes.NONCE, 'nonce cache at capacity');
    while (this.all.size >= this.limits.cacheMax) {
      if (!this.evictOldest(agent) && !this.evictOldest()) return reject(ErrorCodes.NONCE, 'nonce cache at capacity');
    }
    this.all.set(k, { agent, nonce, expires: Math.max(now, requestTime) + this.limits.ttlS });
    this.perAgent.set(agent, this.countFor(agent) + 1);
    return null;
  }

  /** Undo of `admit` when a later check of the same request failed (nothing changes on a rejected request). */
  forget(agent: string, nonce: string): void {
    const k = entryKey(agent, nonce);
    const e = this.all.get(k);
    if (e) this.drop(k, e);
  }

  /** Drops expired entries (oldest first; insertion order is age order unless the clock stepped back). */
  purge(now: number): void {
    for (const [k, e] of this.all) {
      if (e.expires > now) break;
      this.drop(k, e);
    }
  }

  /** Oldest entry not belonging to `except` (or the oldest at all); false when there is none. */
  private evictOldest(except?: string): boolean {
    for (const [k, e] of this.all) {
      if (except !== undefined && e.agent === except) continue;
      this.drop(k, e);
      return true;
    }
    return false;
  }

  private drop(k: string, e: Entry): void {
    this.all.delete(k);
    const n = this.countFor(e.agent) - 1;
    if (n <= 0) this.perAgent.delete(e.agent);
    else this.perAgent.set(e.agent, n);
  }
}
