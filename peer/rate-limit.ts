// Per-client token buckets for the peer endpoints (§8.4 60/min, §8.5 30/min, §9.4 600/min).
// A bucket holds `perMinute` tokens and refills continuously, so a client may burst up to its minute's
// allowance and then proceeds at the steady rate. Time comes from the node clock (seconds) so tests can
// travel instead of sleeping.
import type { Clock } from '../protocol/clock.js';

interface Bucket {
  tokens: number;
  at: number;
}

export type RateDecision = { ok: true } | { ok: false; retryAfterS: number };

/** Hard cap on live buckets (docs/bounds.md): beyond it idle buckets, then the least recently used, are evicted. */
export const RATE_LIMIT_MAX_BUCKETS = 10_000;

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly clock: Clock, private readonly maxBuckets = RATE_LIMIT_MAX_BUCKETS) {}

  /** Takes one token from `key`'s bucket of `perMinute` tokens; `perMinute <= 0` disables the limit. */
  take(key: string, perMinute: number): RateDecision {
    if (!(perMinute > 0)) return { ok: true };
    const now = this.clock();
    const rate = perMinute / 60;
    let b = this.buckets.get(key);
    if (b) {
      b.tokens = Math.min(perMinute, b.tokens + Math.max(0, now - b.at) * rate);
      b.at = now;
      // Map order doubles as LRU order.
      this.buckets.delete(key);
      this.buckets.set(key, b);
    } else {
      if (this.buckets.size >= this.maxBuckets) this.prune(now);
      b = { tokens: perMinute, at: now };
      this.buckets.set(key, b);
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterS: Math.max(1, Math.ceil((1 - b.tokens) / rate)) };
  }

  get size(): number {
    return this.buckets.size;
  }

  private prune(now: number): void {
    // Map order is least-recently-used first, so idle buckets (full again after a minute) sit at the front:
    // evict from the front while idle, then just enough of the oldest to make room — O(evicted), not O(size).
    for (const [k, b] of this.buckets) {
      if (this.buckets.size < this.maxBuckets && now - b.at < 60) break;
      this.buckets.delete(k);
    }
  }
}
