// One full garbage collection on request, for the few places where a big transient allocation has just
// ended and nothing else will trigger one soon (issue 14): decoding a 1M-height derived-state snapshot
// leaves ~40 MiB of dead heap and a ~43 MiB dead LevelDB value behind, and the steady work after it
// (the background re-hash) only makes young garbage, so V8 would never run the major GC that returns
// them. V8 exposes `gc` only behind a flag: it is enabled for one new context, which hands the
// function back, and disabled again (the node's own global scope never gets a `gc`).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | null | undefined;

/** Runs a full GC when V8 lets us (a no-op otherwise). Costs one stop-the-world pause: call it rarely. */
export function collectGarbage(): void {
  if (gc === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as () => void;
    } catch {
      gc = null;
    } finally {
      setFlagsFromString('--no-expose-gc');
    }
  }
  gc?.();
}
