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

/** Buckets beyond this many are pruned (full ones first), so a spray of client keys cannot grow memory. */
const MAX_BUCKETS = 10_000;

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly clock: Clock) {}

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
      if (this.buckets.size >= MAX_BUCKETS) this.prune(now);
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
    // Drop buckets idle for a minute (they would be full again), then the least recently used.
    for (const [k, b] of this.buckets) if (now - b.at >= 60) this.buckets.delete(k);
    while (this.buckets.size >= MAX_BUCKETS) {
      const oldest = this.buckets.keys().next().value as string;
      this.buckets.delete(oldest);
    }
  }
}
