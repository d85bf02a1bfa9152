// Bounded recent-packet-hash set (rns-wire.md §12 step 2): drops byte-identical resends and frames a relay
// duplicated. Insertion-ordered Map → the oldest entry is evicted first, so memory is capped whatever a peer sends.
export class DuplicateFilter {
  private readonly seen = new Map<string, true>();
  constructor(private readonly capacity = 16_384) {}

  /** True the first time a hash is seen; false for a duplicate. */
  admit(hash: Buffer): boolean {
    const k = hash.toString('hex');
    if (this.seen.has(k)) return false;
    this.seen.set(k, true);
    if (this.seen.size > this.capacity) this.seen.delete(this.seen.keys().next().value as string);
    return true;
  }

  get size(): number {
    return this.seen.size;
  }
}
