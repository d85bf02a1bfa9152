// Heap policy for the long streaming commands (`chain ingest|validate` of a big file, issue 14). Their live
// heap is small and flat (the event index lives outside V8's heap, each batch dies before the next), but
// they allocate fast, and V8 then lets the old generation grow to up to 4x what is live before its next
// full collection: measured at 300,000 events, ~100 MiB of old space for ~30 MiB live, growing on with
// the run. A fixed growing factor keeps the old generation near what is live; full collections of a
// small heap are cheap (their cost is in the CPU figures of bench:stream). Only these commands set it:
// the node's own process keeps V8's defaults.
import { setFlagsFromString } from 'node:v8';

/** Old-generation limit after each full GC: live size × (1 + this / 100). */
export const STREAM_HEAP_GROWING_PERCENT = 30;

export function tightenHeapGrowth(): void {
  setFlagsFromString(`--heap-growing-percent=${STREAM_HEAP_GROWING_PERCENT}`);
}
