// Mailbox counts for node status and /metrics (issue 13, docs/metrics.md), kept incrementally: every change of a
// mailbox's state reaches `change(before, after)` from the mailbox actor (one call per changed command), so status
// never scans the mailboxes. Counts only — no keys, ids, recipients or contents are kept.
//
//   pending   messages waiting in a mailbox, per delivery class (request / shared / self / other)
//   claimed   claim tombstones (§7.6: a claimed msg_id is remembered until its expiry so it is never delivered again)
//   oldest pending age: from per-second buckets of pending messages' relay timestamps (count per second, at most
//             one bucket per second of the message TTL), the smallest bucket found again only after it empties.
//
// Base at start: `countBase(values)` reads every stored mailbox once, in the background, from an iterator created
// before the registry takes its first command (LevelDB iterators read a snapshot taken when they are created), so
// base + the changes counted since are exact. Until it finishes, `ready` is false (status says `counted: false`).
import type { MailboxState, StoredMessage } from '../protocol/mailbox-rules.js';
import type { DepositOrigin, MailboxClass, MailboxStatsSnapshot } from '../ports/status.js';

export type { MailboxStatsSnapshot };


const classOf = (m: StoredMessage): MailboxClass => {
  const c = m.delivery_class;
  return c === 'request' || c === 'shared' || c === 'self' ? c : 'other';
};


const zero = (): Record<MailboxClass, number> => ({ request: 0, shared: 0, self: 0, other: 0 });

export class MailboxStats {
  private readonly pending = zero();
  private readonly withPending = zero();
  private claimed = 0;
  /** floor(relay timestamp) → pending messages stored in that second. */
  private readonly seconds = new Map<number, number>();
  /** Smallest key of `seconds`, or NaN when it must be found again. */
  private oldest = Infinity;
  private counted = false;
  /** Counted by the registry (actors/mailbox-registry.ts), see MailboxStatsSnapshot. */
  readonly deposits: Record<DepositOrigin, number> = { local: 0, chain: 0, replica: 0 };
  polls = 0;
  claims = 0;

  private base: Promise<void> = Promise.resolve();

  get ready(): boolean {
    return this.counted;
  }

  /** Resolves once the stored mailboxes have been counted (tests, tools). */
  whenCounted(): Promise<void> {
    return this.base;
  }

  /**
   * One mailbox moved from `before` to `after`. Commands keep the order of the messages they keep and append new
   * ones at the end (protocol/mailbox-rules.ts), so one walk over both arrays finds what left and what came.
   */
  change(before: MailboxState, after: MailboxState): void {
    const a = before.messages;
    const b = after.messages;
    if (a !== b) {
      let j = 0;
      for (let i = 0; i < a.length; i++) {
        if (j < b.length && a[i] === b[j]) j++;
        else this.remove(a[i]);
      }
      for (; j < b.length; j++) this.add(b[j]);
      if ((a.length === 0) !== (b.length === 0)) {
        const m = a[0] ?? b[0];
        this.withPending[classOf(m)] += b.length === 0 ? -1 : 1;
      }
    }
    if (before.claimed !== after.claimed) this.claimed += countKeys(after.claimed) - countKeys(before.claimed);
  }

  /** Adds every stored mailbox (persisted actor snapshots) to the counts; run once, right after open. */
  countBase(records: AsyncIterable<unknown>): Promise<void> {
    this.base = this.readBase(records);
    return this.base;
  }

  private async readBase(records: AsyncIterable<unknown>): Promise<void> {
    const empty: MailboxState = { key: '', messages: [], claimed: {} };
    for await (const rec of records) {
      const mailbox = (rec as { snapshot?: { context?: { mailbox?: MailboxState } } } | undefined)?.snapshot?.context?.mailbox;
      if (mailbox && Array.isArray(mailbox.messages)) this.change(empty, { ...mailbox, claimed: mailbox.claimed ?? {} });
    }
    this.counted = true;
  }

  snapshot(now: number): MailboxStatsSnapshot {
    const oldest = this.oldestSecond();
    return {
      counted: this.counted,
      pending: { ...this.pending },
      with_pending: { ...this.withPending },
      claimed: this.claimed,
      oldest_pending_age_s: oldest === undefined ? null : Math.max(0, Math.floor(now) - oldest),
      deposits: { ...this.deposits },
      polls: this.polls,
      claims: this.claims,
    };
  }

  private add(m: StoredMessage): void {
    this.pending[classOf(m)]++;
    const s = Math.floor(m.timestamp);
    this.seconds.set(s, (this.seconds.get(s) ?? 0) + 1);
    if (s < this.oldest) this.oldest = s;
  }

  private remove(m: StoredMessage): void {
    this.pending[classOf(m)]--;
    const s = Math.floor(m.timestamp);
    const n = (this.seconds.get(s) ?? 0) - 1;
    if (n > 0) this.seconds.set(s, n);
    else {
      this.seconds.delete(s);
      if (s === this.oldest) this.oldest = NaN;
    }
  }

  private oldestSecond(): number | undefined {
    if (Number.isNaN(this.oldest)) {
      this.oldest = Infinity;
      for (const s of this.seconds.keys()) if (s < this.oldest) this.oldest = s;
    }
    return this.oldest === Infinity ? undefined : this.oldest;
  }
}

function countKeys(o: Record<string, number>): number {
  let n = 0;
  for (const _k in o) n++;
  return n;
}
