import { parseHttpDate, parseRetryAfter } from '../../protocol/retry-after.js';

const NOW = 1_700_000_000; // 2023-11-14T22:13:20Z

describe('T65 Retry-After parser', () => {
  test.each([
    ['120', 120],
    ['  30  ', 30],
    ['0', 0],
    ['86400', 3600],
    ['99999999', 3600],
    ['-10', 0],
    ['', 0],
    ['xyz', 0],
    ['1.5', 0],
  ])('%j → %d', (value, expected) => {
    expect(parseRetryAfter(value, NOW)).toBe(expected);
  });

  test('HTTP-date 300 s ahead → 300', () => {
    expect(Math.abs(parseRetryAfter('Tue, 14 Nov 2023 22:18:20 GMT', NOW) - 300)).toBeLessThanOrEqual(5);
  });

  test('past date → 0; far future date → 3600', () => {
    expect(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', NOW)).toBe(0);
    expect(parseRetryAfter('Fri, 01 Jan 2100 00:00:00 GMT', NOW)).toBe(3600);
  });

  test('missing or non-string values → 0', () => {
    expect(parseRetryAfter(undefined, NOW)).toBe(0);
    expect(parseRetryAfter(null, NOW)).toBe(0);
  });
});

test('HTTP-date forms (RFC 7231 §7.1.1.1); no zone means UTC', () => {
  const t = Date.UTC(1994, 10, 6, 8, 49, 37) / 1000;
  expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT')).toBe(t);
  expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT')).toBe(t);
  expect(parseHttpDate('Sun Nov  6 08:49:37 1994')).toBe(t);
  expect(parseHttpDate('06 Nov 1994 08:49:37')).toBe(t);
  expect(parseHttpDate('Sun, 06 Nov 1994 09:49:37 +0100')).toBe(t);
  expect(parseHttpDate('Sun, 31 Feb 1994 08:49:37 GMT')).toBeNull();
  expect(parseHttpDate('yesterday')).toBeNull();
});
