// Seeded randomness for tests: `prng` (mulberry32: small, seedable, good enough to pick mutations or kill points) and
// `seededRandom` for tests that pick random points (crash tests): the seed is printed, CRASH_SEED=<n> replays a run.
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function seededRandom(label: string): () => number {
  const seed = process.env.CRASH_SEED ? Number(process.env.CRASH_SEED) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
  process.stdout.write(`${label}: seed ${seed} (replay with CRASH_SEED=${seed})\n`);
  return prng(seed);
}
