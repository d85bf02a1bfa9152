import { ErrorCodes, InfonetError } from '../../protocol/errors.js';
import {
  CATCH_UP_NEXT_CYCLE_S,
  finishSync,
  initialSyncState,
  isPeerRateLimited,
  isPeerUnreachable,
  nextSyncDelay,
  peerCooldownS,
  peerErrorCooldownS,
  peerHttpError,
  peerRateLimitedError,
  retryAfterOf,
  unreachableCooldownS,
} from '../../protocol/sync-backoff.js';

const SETTINGS = { syncIntervalS: 300, syncFailureBackoffS: 60 };
const START = 1_700_000_000;

describe('T66 failure ladder', () => {
  test('base 60, cap 1800: failures 1..8', () => {
    const ladder = [1, 2, 3, 4, 5, 6, 7, 8].map((failures) => nextSyncDelay({ failures, baseS: 60, capS: 1800 }));
    expect(ladder).toEqual([60, 120, 240, 480, 960, 1800, 1800, 1800]);
  });

  test.each([
    [{ failures: 1, baseS: 60, capS: 1800, retryAfterS: 600 }, 600],
    [{ failures: 7, baseS: 60, capS: 1800, retryAfterS: 30 }, 1800],
    [{ failures: 10, baseS: 60, capS: 0, retryAfterS: 120 }, 120],
    [{ failures: 0, baseS: 0, capS: 0, retryAfterS: 0 }, 0],
    [{ failures: 1000, baseS: 60 }, 1800],
  ])('%j → %d', (input, expected) => {
    expect(nextSyncDelay(input)).toBe(expected);
  });

  test('finishSync: failures climb the ladder, success resets and waits one interval', () => {
    let s = initialSyncState();
    const dues: number[] = [];
    for (let i = 0; i < 3; i++) {
      s = finishSync(s, { kind: 'error', error: 'boom' }, START, SETTINGS);
      dues.push(s.nextSyncDueAt - START);
    }
    expect(dues).toEqual([60, 120, 240]);
    expect(s).toMatchObject({ consecutiveFailures: 3, lastOutcome: 'error', lastError: 'boom' });

    s = finishSync(s, { kind: 'ok' }, START + 10, SETTINGS);
    expect(s).toEqual({ consecutiveFailures: 0, nextSyncDueAt: START + 10 + 300, lastOutcome: 'ok', lastError: '', lastSyncAt: START + 10 });
  });

  test('finishSync: a peer with more than the rounds carried is asked again at once, then the interval applies', () => {
    let s = finishSync(initialSyncState(), { kind: 'ok', more: true }, START, SETTINGS);
    expect(CATCH_UP_NEXT_CYCLE_S).toBe(0);
    expect(s.nextSyncDueAt).toBe(START);
    s = finishSync(s, { kind: 'ok' }, START + 1, SETTINGS);
    expect(s.nextSyncDueAt - (START + 1)).toBe(300);
    // never later than a (short) configured interval
    expect(finishSync(initialSyncState(), { kind: 'ok', more: true }, START, { ...SETTINGS, syncIntervalS: 0 }).nextSyncDueAt).toBe(START);
  });

  test('finishSync: fork outcome, solo outcome', () => {
    const forked = finishSync(initialSyncState(), { kind: 'fork', error: 'fork detected' }, START, SETTINGS);
    expect(forked).toMatchObject({ lastOutcome: 'fork', lastError: 'fork detected', consecutiveFailures: 1, nextSyncDueAt: START + 60 });
    const solo = finishSync(forked, { kind: 'solo' }, START, SETTINGS);
    expect(solo).toMatchObject({ lastOutcome: 'solo', consecutiveFailures: 0, nextSyncDueAt: START + 300 });
  });
});

describe('T63-style 429 cooldown numbers', () => {
  test('seed peer, typed HTTP 429 with retry_after 180', () => {
    const err = peerHttpError(429, 'rate limited', 180);
    expect(err.message).toBe('HTTP 429: rate limited');
    expect(isPeerRateLimited(err)).toBe(true);
    const retry = retryAfterOf(err);
    expect(retry).toBe(180);

    const cooldown = peerCooldownS({ baseS: 15, retryAfterS: retry, failureCount: 0 });
    expect(cooldown).toBe(180);
    const s = finishSync(initialSyncState(), { kind: 'error', error: err.message, retryAfterS: retry, seedPeerCooldownS: cooldown }, START, SETTINGS);
    expect(s.lastError).toBe('HTTP 429: rate limited');
    expect(s.nextSyncDueAt).toBeGreaterThanOrEqual(START + 180);
    expect(START + cooldown).toBeGreaterThanOrEqual(START + 180);
  });

  test.each([
    [{ baseS: 120, retryAfterS: 0, failureCount: 0 }, 120],
    [{ baseS: 15, retryAfterS: 0, failureCount: 0 }, 60],
    [{ baseS: 15, retryAfterS: 0, failureCount: 1 }, 120],
    [{ baseS: 15, retryAfterS: 0, failureCount: 2 }, 240],
    [{ baseS: 15, retryAfterS: 0, failureCount: 3 }, 480],
    [{ baseS: 15, retryAfterS: 0, failureCount: 4 }, 900],
    [{ baseS: 15, retryAfterS: 0, failureCount: 9 }, 900],
    [{ baseS: 15, retryAfterS: 1200, failureCount: 9 }, 1200],
  ])('peerCooldownS %j → %d', (input, expected) => {
    expect(peerCooldownS(input)).toBe(expected);
  });

  test('non-429 failures cool down for the base, or the hint when larger', () => {
    expect(peerErrorCooldownS({ baseS: 120 })).toBe(120);
    expect(peerErrorCooldownS({ baseS: 120, retryAfterS: 200 })).toBe(200);
  });
});

describe('typed peer errors', () => {
  test('T64 shape: rate-limited error message and retry_after_s', () => {
    const err = peerRateLimitedError('http://127.0.0.1:5000', 120, 'x'.repeat(500));
    expect(err.code).toBe(ErrorCodes.RATE_LIMITED);
    expect(err.message).toBe(`HTTP 429 from http://127.0.0.1:5000 (retry_after=120s): ${'x'.repeat(200)}`);
    expect(err.details?.retry_after_s).toBe(120);
    expect(isPeerRateLimited(err)).toBe(true);
    expect(retryAfterOf(err)).toBe(120);
  });

  test('T67 other HTTP errors honour hints', () => {
    const err = peerHttpError(503, 'busy', 200);
    expect(err.code).toBe(ErrorCodes.PEER_HTTP);
    expect(err.message).toBe('HTTP 503: busy');
    expect(err.details).toMatchObject({ status: 503, retry_after_s: 200 });
    expect(isPeerRateLimited(err)).toBe(false);
    const s = finishSync(initialSyncState(), { kind: 'error', error: err.message, retryAfterS: retryAfterOf(err) }, START, SETTINGS);
    expect(s.nextSyncDueAt).toBeGreaterThanOrEqual(START + 200);
  });

  test('no double HTTP prefix', () => {
    expect(peerHttpError(503, '', 0).message).toBe('HTTP 503');
    expect(peerHttpError(503, 'HTTP 503', 0).message).toBe('HTTP 503');
    expect(peerHttpError(502, 'HTTP 502: bad gateway', 0).message).toBe('HTTP 502: bad gateway');
  });

  test('retryAfterOf ignores foreign errors', () => {
    expect(retryAfterOf(new Error('x'))).toBe(0);
    expect(retryAfterOf(undefined)).toBe(0);
  });
});

describe('unreachable peers heal fast (issue 8 item 6)', () => {
  const FAST = { syncIntervalS: 5, syncFailureBackoffS: 60 };

  test('a peer nobody answered for waits one interval, never more than the spec base', () => {
    expect(unreachableCooldownS({ baseS: 120, syncIntervalS: 5 })).toBe(5);
    expect(unreachableCooldownS({ baseS: 120, syncIntervalS: 300 })).toBe(120);
    expect(unreachableCooldownS({ baseS: 15, syncIntervalS: 0 })).toBe(1);
  });

  test('only transport failures count as unreachable; answered errors keep the §9.6 ladder', () => {
    expect(isPeerUnreachable(new InfonetError(ErrorCodes.UNAVAILABLE, 'peer x unreachable: ECONNREFUSED'))).toBe(true);
    expect(isPeerUnreachable(new InfonetError(ErrorCodes.TIMEOUT, 'peer x did not answer'))).toBe(true);
    expect(isPeerUnreachable(peerHttpError(503, 'busy', 0))).toBe(false);
    expect(isPeerUnreachable(peerRateLimitedError('p', 5, ''))).toBe(false);
    expect(isPeerUnreachable(new Error('x'))).toBe(false);
  });

  test('finishSync: unreachable cycles climb from the interval to 4 intervals, never above the base (5, 10, 20, 20 …)', () => {
    let s = initialSyncState();
    const dues: number[] = [];
    for (let i = 0; i < 6; i++) {
      s = finishSync(s, { kind: 'error', error: 'refused', unreachable: true }, START, FAST);
      dues.push(s.nextSyncDueAt - START);
    }
    expect(dues).toEqual([5, 10, 20, 20, 20, 20]);
    // Default interval (300 s): the spec's base, flat.
    let d = initialSyncState();
    const flat: number[] = [];
    for (let i = 0; i < 3; i++) {
      d = finishSync(d, { kind: 'error', error: 'refused', unreachable: true }, START, SETTINGS);
      flat.push(d.nextSyncDueAt - START);
    }
    expect(flat).toEqual([60, 60, 60]);
    // An answered failure after that is back on the spec's ladder.
    s = finishSync(s, { kind: 'error', error: 'HTTP 500' }, START, FAST);
    expect(s.nextSyncDueAt - START).toBe(1800);
  });

  test('finishSync: a Retry-After hint still wins over the short ladder', () => {
    const s = finishSync(initialSyncState(), { kind: 'error', error: 'refused', unreachable: true, retryAfterS: 90 }, START, FAST);
    expect(s.nextSyncDueAt - START).toBe(90);
  });
});
