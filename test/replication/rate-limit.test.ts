// The peer routes' token buckets (peer/rate-limit.ts; §8.4 60/min, §8.5 30/min, §9.4 600/min): a client may burst its
// minute's allowance, then proceeds at the steady rate; Retry-After says when the next token is there; clients are
// independent; 0 disables. Time is a manual clock, never a sleep.
import { RateLimiter } from '../../peer/rate-limit.js';
import { manualClock } from '../../protocol/clock.js';
import { DEFAULT_RATE_LIMITS } from '../../protocol/peer-routes.js';

describe('RateLimiter', () => {
  test('burst of the per-minute budget, then refused with the wait until the next token', () => {
    const clock = manualClock(100);
    const rl = new RateLimiter(clock);
    for (let i = 0; i < 60; i++) expect(rl.take('peer:a', 60).ok).toBe(true);
    expect(rl.take('peer:a', 60)).toEqual({ ok: false, retryAfterS: 1 });
    clock.advance(1);
    expect(rl.take('peer:a', 60).ok).toBe(true);
    expect(rl.take('peer:a', 60).ok).toBe(false);
  });

  test('a slow budget reports a longer Retry-After; refused attempts do not consume tokens', () => {
    const clock = manualClock(0);
    const rl = new RateLimiter(clock);
    for (let i = 0; i < 30; i++) rl.take('push', 30);
    expect(rl.take('push', 30)).toEqual({ ok: false, retryAfterS: 2 });
    expect(rl.take('push', 30)).toEqual({ ok: false, retryAfterS: 2 });
    clock.advance(2);
    expect(rl.take('push', 30).ok).toBe(true);
  });

  test('clients are independent; a full minute idle refills to the budget, never above it', () => {
    const clock = manualClock(0);
    const rl = new RateLimiter(clock);
    for (let i = 0; i < 5; i++) rl.take('a', 5);
    expect(rl.take('a', 5).ok).toBe(false);
    expect(rl.take('b', 5).ok).toBe(true);
    clock.advance(3600);
    for (let i = 0; i < 5; i++) expect(rl.take('a', 5).ok).toBe(true);
    expect(rl.take('a', 5).ok).toBe(false);
  });

  test('a budget of 0 (or less) disables the limit', () => {
    const rl = new RateLimiter(manualClock(0));
    for (let i = 0; i < 1000; i++) expect(rl.take('x', 0).ok).toBe(true);
    expect(rl.size).toBe(0);
  });

  test('default budgets are the spec values', () => {
    expect(DEFAULT_RATE_LIMITS.dm_replicate_envelope).toBe(60);
    expect(DEFAULT_RATE_LIMITS.infonet_peer_push).toBe(30);
    expect(DEFAULT_RATE_LIMITS.infonet_sync).toBe(600);
  });
});
