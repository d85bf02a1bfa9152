/** Wall-clock seconds since the Unix epoch, as a float. Injected everywhere time matters so tests can travel. */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now() / 1000;

/** A settable clock for tests and replays. */
export function manualClock(start: number): Clock & { set(t: number): void; advance(dt: number): void } {
  let now = start;
  const clock = (() => now) as Clock & { set(t: number): void; advance(dt: number): void };
  clock.set = (t: number) => { now = t; };
  clock.advance = (dt: number) => { now += dt; };
  return clock;
}
