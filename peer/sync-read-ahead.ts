// Range reads for serving sync pages (§9.4), read ahead. A peer catching up asks for page after page of 100 events
// (§9.3: five rounds a cycle, each starting where the last one ended), and every LevelDB range read pays a fixed cost
// (iterator, seek, close: as much as ~8 µs per event of a page of 100, issue 14). So a miss reads READ_AHEAD events
// from the height asked for, and the pages after it are cut from that window.
//
// A cached slice is served only while the chain still holds its events at their heights (`heightOf(event_id)` of its
// first and last event, the in-memory index; the ids between are fixed by the hash links): a fork application,
// rebuild or reset to genesis invalidates every window it touched, and a window that ended at the chain's head at
// read time is not used for heights the chain has grown since. What a caller gets is
// what `readRange(from, limit)` would return now.
import type { ChainReadPort } from '../ports/chain.js';
import type { ChainEvent } from '../protocol/event.js';

/** Events read per miss (five pages of the §9.3 default, one client cycle). */
export const READ_AHEAD = 500;
/** Windows kept per chain (peers catching up at different heights at once). */
export const READ_AHEAD_WINDOWS = 4;

interface Window {
  from: number;
  /** Events asked for; fewer came back when the chain ended there at read time. */
  asked: number;
  events: Promise<ChainEvent[]>;
}

type ReadPort = Pick<ChainReadPort, 'length' | 'heightOf' | 'readRange'>;

export class SyncReadAhead {
  private windows: Window[] = [];

  constructor(private readonly chain: ReadPort, private readonly span = READ_AHEAD, private readonly keep = READ_AHEAD_WINDOWS) {}

  /** The events at heights `from` … `from + limit - 1` that the chain holds now (as `readRange`). */
  async read(from: number, limit: number): Promise<ChainEvent[]> {
    const end = Math.min(from + limit, this.chain.length);
    if (end <= from) return [];
    for (const w of this.windows) {
      if (from < w.from || from >= w.from + w.asked) continue;
      const events = await w.events.catch(() => null);
      const slice = events && this.cut(w, events, from, end);
      if (slice) return slice;
      this.windows = this.windows.filter((x) => x !== w);
      break;
    }
    const w: Window = { from, asked: Math.max(limit, this.span), events: Promise.resolve([]) };
    w.events = this.chain.readRange(from, w.asked);
    this.windows.unshift(w);
    if (this.windows.length > this.keep) this.windows.length = this.keep;
    try {
      return (await w.events).slice(0, limit);
    } catch (e) {
      this.windows = this.windows.filter((x) => x !== w);
      throw e;
    }
  }

  /** The window's events for [from, end), or null when it does not hold all of them as the chain does now. */
  private cut(w: Window, events: ChainEvent[], from: number, end: number): ChainEvent[] | null {
    const have = w.from + events.length;
    // Heights the window never read: past its end while the chain was shorter, or past what was asked.
    if (end > have) return null;
    const slice = events.slice(from - w.from, end - w.from);
    // Each event_id commits to its prev_hash, and the window was read as one linked run: when the chain still holds
    // the slice's last event at its height, it holds every earlier one of the window too. The first is checked as
    // well, so a window never serves across a change it could not see.
    const last = slice.length - 1;
    if (this.chain.heightOf(slice[0].event_id) !== from || this.chain.heightOf(slice[last].event_id) !== from + last) return null;
    return slice;
  }
}

const byChain = new WeakMap<object, SyncReadAhead>();

/** The read-ahead of one chain (one per node: the sync routes of that node share it). */
export function readAheadFor(chain: ReadPort): SyncReadAhead {
  let r = byChain.get(chain);
  if (!r) byChain.set(chain, (r = new SyncReadAhead(chain)));
  return r;
}
