import { GENESIS_HASH } from '../../protocol/constants.js';
import { buildLocator, locatorIndices, matchLocator, matchLocatorAsync } from '../../protocol/locator.js';

const ids = (n: number) => Array.from({ length: n }, (_, i) => `id-${String(i).padStart(3, '0')}`);
const indexIn = (chain: string[]) => (id: string) => chain.indexOf(id);

describe('T62 locator and fork flag', () => {
  const chain = ids(40);

  test('locator shape for 40 events', () => {
    const loc = buildLocator(chain);
    expect(loc.length).toBeLessThanOrEqual(32);
    expect(loc[0]).toBe(chain[39]);
    expect(loc[loc.length - 1]).toBe(GENESIS_HASH);
    expect(loc.slice(0, 10)).toEqual(chain.slice(30, 40).reverse());
    // after the first 10 the step doubles: 2, 4, 8, 16
    expect(locatorIndices(40)).toEqual([39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 28, 24, 16, 0]);
  });

  test('unknown ids plus genesis → forked, served from the start', () => {
    const m = matchLocator(['x'.repeat(64), 'y'.repeat(64), GENESIS_HASH], indexIn(chain));
    expect(m).toEqual({ matchedHash: GENESIS_HASH, startIndex: 0, forked: true });
  });

  test('only genesis → not forked, events from the start', () => {
    expect(matchLocator([GENESIS_HASH], indexIn(chain))).toEqual({ matchedHash: GENESIS_HASH, startIndex: 0, forked: false });
  });

  test('a known id → serve after it', () => {
    const loc = buildLocator(chain.slice(0, 25));
    expect(matchLocator(loc, indexIn(chain))).toEqual({ matchedHash: chain[24], startIndex: 25, forked: false });
  });

  test('nothing matches (no genesis) → forked, nothing served', () => {
    expect(matchLocator(['nope', 7, null], indexIn(chain))).toEqual({ matchedHash: '', startIndex: -1, forked: true });
    expect(matchLocator([], indexIn(chain))).toEqual({ matchedHash: '', startIndex: -1, forked: true });
  });
});

test('empty chain locator is [GENESIS_HASH]', () => {
  expect(buildLocator([])).toEqual([GENESIS_HASH]);
  expect(buildLocator({ length: 0, idAt: () => 'never' })).toEqual([GENESIS_HASH]);
});

test('long chain: at most 31 ids plus genesis, read through an accessor without loading the chain', () => {
  const reads: number[] = [];
  const loc = buildLocator({ length: 1_000_000_000, idAt: (i) => (reads.push(i), `id-${i}`) });
  expect(loc.length).toBe(32);
  expect(reads.length).toBe(31);
  expect(loc[31]).toBe(GENESIS_HASH);
  expect(loc.slice(0, 10)).toEqual(Array.from({ length: 10 }, (_, k) => `id-${999_999_999 - k}`));
});

test('matchLocatorAsync agrees with matchLocator', async () => {
  const chain = ids(40);
  const loc = ['zz', chain[12], GENESIS_HASH];
  const expected = matchLocator(loc, indexIn(chain));
  await expect(matchLocatorAsync(loc, async (id) => chain.indexOf(id))).resolves.toEqual(expected);
  expect(expected).toEqual({ matchedHash: chain[12], startIndex: 13, forked: false });
});
