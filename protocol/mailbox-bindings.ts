// Bounded mailbox bindings (§7.2; issue 8 item 3): the original keeps "<type>|<agent>" → SHA-256(token) in a map
// that is never pruned, keyed by whatever agent id a caller sends (6,000 dm.count calls with 100 KB ids took a node
// from 109 MB to 1.33 GB). Here: an LRU with a hard entry cap and a TTL. Evicting a binding loses no mail — every
// requests/self claim opens SHA-256(token) itself, and deposits then go to the epoch key the claim also opens.
// Pure: the caller passes the clock.
import type { Clock } from './clock.js';
import type { MailboxBindings } from './mailbox-keys.js';

/** Default cap: ~200 B per entry → ~4 MB at most. */
export const BINDINGS_MAX = 20_000;
/** Two mailbox epochs (2 × 6 h): a binding older than that names keys no claim still opens. */
export const BINDING_TTL_S = 2 * 21_600;

export class BoundedBindings implements MailboxBindings {
  private readonly map = new Map<string, { key: string; at: number }>();

  constructor(private readonly clock: Clock, readonly max = BINDINGS_MAX, readonly ttlS = BINDING_TTL_S) {}

  get size(): number {
    return this.map.size;
  }

  get(id: string): string | undefined {
    const e = this.map.get(id);
    if (!e) return undefined;
    if (this.clock() - e.at >= this.ttlS) {
      this.map.delete(id);
      return undefined;
    }
    return e.key;
  }

  set(id: string, boundKey: string): this {
    this.map.delete(id); // re-insert: most recently used last
    this.map.set(id, { key: boundKey, at: this.clock() });
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
    return this;
  }
}
