// The live set of mailbox actors behind the registry (split out of actors/mailbox-registry.ts): spawn on first use,
// restore from the LevelDB snapshot when passivated, passivate (stop; the snapshot is already durable) when idle or
// when more than `maxLive` actors are live, so memory stays bounded however many mailboxes exist. Every command's
// resulting state is written through the group committer and `exec` resolves only after that write is durable.
import type { BatchOp } from '../store/group-commit.js';
import type { MailboxRecord, MailboxStore } from '../store/mailbox-store.js';
import { isEmptyMailbox, type MailboxState } from '../protocol/mailbox-rules.js';
import { type MailboxActor, type MailboxEvent, type MailboxMachine, startMailboxActor } from './mailbox-actor.js';

interface Entry {
  key: string;
  actor: MailboxActor;
  persistedRev: number;
  persistedDeadline: number | null;
  busy: number;
  writes: number;
  lastUsed: number;
  inCommand: boolean;
  /**
   * Set by load(): the entry starts with one pin (busy 1) that the first acquire() to see it takes over, so trim()
   * cannot passivate it between the load and its waiter's turn (under a burst that re-loaded mailboxes in a loop).
   */
  loadPin: boolean;
  /** LRU list neighbours (older / newer). */
  prev?: Entry;
  next?: Entry;
}

export class MailboxActors {
  private readonly live = new Map<string, Entry>();
  /**
   * The passivation candidates, least recently used first: only unpinned entries (busy 0, no write in flight). A
   * pinned entry leaves the list and rejoins at the recent end when its last pin goes, so trim() never walks past
   * in-flight mailboxes (with more of them than maxLive that made every call O(live), issue 14). An intrusive list,
   * not the Map's insertion order: a Map churned by delete+set keeps the deleted slots until it rehashes, and every
   * LRU scan from its start walked them (issue 14 profile).
   */
  private oldest?: Entry;
  private newest?: Entry;
  private readonly loading = new Map<string, Promise<Entry | null>>();
  /** Highest number of simultaneously live actors seen (for tests and benchmarks). */
  peakLive = 0;
  /** Entries trim() has looked at, ever (for tests: the work of trimming, not a timing). */
  trimVisits = 0;

  constructor(private readonly store: MailboxStore, private readonly machine: MailboxMachine, private readonly maxLive = 5000) {}

  get size(): number {
    return this.live.size;
  }

  /**
   * Sends one command to a mailbox actor and waits until the resulting state (plus `extraOps`, in the
   * same atomic batch) is durable. With `create=false` a mailbox that does not exist yields undefined.
   */
  async exec<R>(
    key: string, create: boolean, make: (reply: (r: R) => void) => MailboxEvent,
    extraOps?: BatchOp[] | ((out: R | undefined) => BatchOp[]),
  ): Promise<R | undefined> {
    // Not acquireSync here: a single command keeps its async hop (the timing the peer-link tests were written
    // against, e.g. test/replication/outbound-batch.test.ts "a healthy link … alone on the single route").
    const entry = await this.acquire(key, create);
    if (!entry) {
      const ops = typeof extraOps === 'function' ? extraOps(undefined) : extraOps;
      if (ops?.length) await this.store.write(ops);
      return undefined;
    }
    try {
      let out: R | undefined;
      entry.inCommand = true;
      try {
        entry.actor.send(make((r) => { out = r; }));
      } finally {
        entry.inCommand = false;
      }
      await this.persist(entry, typeof extraOps === 'function' ? extraOps(out) : extraOps);
      return out;
    } finally {
      entry.busy--;
      entry.lastUsed = Date.now();
      this.unpinned(entry);
      this.trim();
    }
  }

  /**
   * Sends several commands (to one or many mailboxes; one mailbox's commands run in the given order) and waits until
   * every resulting state is durable, in ONE write: one acquire per mailbox, one op list, one committer write.
   * Answers `undefined` for a command whose mailbox does not exist when `create` is false. `extraOps` join that write.
   */
  async execBatch<R>(
    commands: ReadonlyArray<{ key: string; make: (reply: (r: R) => void) => MailboxEvent }>, create: boolean, extraOps: readonly BatchOp[] = [],
  ): Promise<(R | undefined)[]> {
    const entries = new Map<string, Entry | null>();
    const waits: Promise<void>[] = [];
    for (const c of commands) {
      if (entries.has(c.key)) continue;
      const now = this.acquireSync(c.key, create);
      entries.set(c.key, now ?? null);
      if (now === undefined) waits.push(this.acquire(c.key, create).then((e) => { entries.set(c.key, e); }));
    }
    if (waits.length) await Promise.all(waits);
    const held = [...entries.values()].filter((e): e is Entry => e !== null);
    try {
      const out: (R | undefined)[] = new Array(commands.length);
      for (let i = 0; i < commands.length; i++) {
        const entry = entries.get(commands[i].key);
        if (!entry) continue;
        entry.inCommand = true;
        try {
          entry.actor.send(commands[i].make((r) => { out[i] = r; }));
        } finally {
          entry.inCommand = false;
        }
      }
      let ops: BatchOp[] = [];
      const written: Entry[] = [];
      for (const e of held) {
        const own = this.snapshotOps(e);
        if (own.length === 0) continue;
        ops = ops.length ? ops.concat(own) : own;
        written.push(e);
      }
      await this.writeFor(written, extraOps.length ? ops.concat(extraOps) : ops);
      return out;
    } finally {
      const now = Date.now();
      for (const e of held) {
        e.busy--;
        e.lastUsed = now;
        this.unpinned(e);
      }
      this.trim();
    }
  }

  /** The current state of a live mailbox actor, without a command (undefined when it is not live). */
  liveState(key: string): MailboxState | undefined {
    return this.live.get(key)?.actor.getSnapshot().context.mailbox;
  }

  /** Passivates actors idle for `idleMs`. Returns how many were stopped. */
  passivateIdle(idleMs: number): number {
    const cutoff = Date.now() - idleMs;
    let n = 0;
    for (const e of [...this.live.values()]) if (e.lastUsed <= cutoff && this.passivate(e)) n++;
    return n;
  }

  stopAll(): void {
    for (const e of [...this.live.values()]) {
      e.actor.stop();
      this.drop(e);
    }
  }

  /** Writes the actor's snapshot if its state moved since the last write (null record when empty). */
  private persist(entry: Entry, extraOps?: BatchOp[]): Promise<void> {
    const own = this.snapshotOps(entry);
    const ops = own.length ? (extraOps?.length ? own.concat(extraOps) : own) : extraOps ?? [];
    return this.writeFor([entry], ops);
  }

  /** The ops that record an entry's current state, if it moved since the last write (marks it as persisted). */
  private snapshotOps(entry: Entry): BatchOp[] {
    const ctx = entry.actor.getSnapshot().context;
    if (ctx.rev === entry.persistedRev) return [];
    entry.persistedRev = ctx.rev;
    const empty = isEmptyMailbox(ctx.mailbox as MailboxState);
    const record = empty ? null : { snapshot: entry.actor.getPersistedSnapshot(), deadline: ctx.deadline };
    const ops = this.store.mailboxOps(entry.key, record, entry.persistedDeadline);
    entry.persistedDeadline = record ? ctx.deadline : null;
    return ops;
  }

  /** One committer write of `ops`; `entries` stay pinned (not passivated) until it is durable. */
  private writeFor(entries: readonly Entry[], ops: BatchOp[]): Promise<void> {
    if (ops.length === 0) return Promise.resolve();
    for (const e of entries) {
      this.pin(e);
      e.writes++;
    }
    return this.store.write(ops).then(
      () => {
        for (const e of entries) {
          e.writes--;
          this.unpinned(e);
        }
        this.trim();
      },
      (err) => {
        for (const e of entries) {
          e.writes--;
          // The in-memory state is ahead of the disk: drop the actor so the next use reloads the truth.
          this.store.markMayExist(e.key);
          e.actor.stop();
          if (this.live.get(e.key) === e) this.drop(e);
        }
        throw err;
      },
    );
  }

  /**
   * The entry for `key` pinned without waiting, when that needs no LevelDB read: a live entry, or a new one for a
   * mailbox that certainly has no record. `null`: certainly none (create false); `undefined`: acquire() must read.
   */
  private acquireSync(key: string, create: boolean): Entry | null | undefined {
    const live = this.live.get(key);
    if (live) return this.pinLive(live);
    if (this.loading.has(key) || this.store.mayExist(key)) return undefined;
    if (!create) return null;
    const entry = this.spawn(key, undefined);
    entry.loadPin = false; // taken over right here
    return entry;
  }

  /** Pins a live entry for one more user; a freshly loaded entry's own pin is taken over instead. */
  private pinLive(live: Entry): Entry {
    if (live.loadPin) live.loadPin = false;
    else {
      this.pin(live);
      live.busy++;
    }
    return live;
  }

  /** Returns the live entry for `key`, pinned (busy+1) so it cannot be passivated until released. */
  private async acquire(key: string, create: boolean): Promise<Entry | null> {
    for (;;) {
      const live = this.live.get(key);
      if (live) return this.pinLive(live);
      let pending = this.loading.get(key);
      if (!pending) {
        pending = this.load(key, create);
        this.loading.set(key, pending);
        void pending.finally(() => this.loading.delete(key)).catch(() => undefined);
      }
      const e = await pending;
      if (!e && !create) return null;
      // Loop: pins the entry synchronously if it is still live (it may have been passivated meanwhile).
    }
  }

  private async load(key: string, create: boolean): Promise<Entry | null> {
    const rec = await this.store.loadMailbox(key);
    if (!rec && !create) return null;
    const existing = this.live.get(key);
    if (existing) return existing;
    return this.spawn(key, rec);
  }

  /** A new live entry for `key` (restored from `rec` when given), holding one pin (the load pin). */
  private spawn(key: string, rec: MailboxRecord | undefined): Entry {
    this.trim(1);
    // Timer-driven expiry changes state outside a command: persist those too.
    const actor = startMailboxActor(this.machine, key, rec?.snapshot, () => {
      if (!entry.inCommand && actor.getSnapshot().context.rev !== entry.persistedRev) void this.persist(entry).catch(() => undefined);
    });
    const entry: Entry = {
      key, actor, persistedRev: actor.getSnapshot().context.rev, persistedDeadline: rec?.deadline ?? null,
      busy: 1, writes: 0, lastUsed: Date.now(), inCommand: false, loadPin: true,
    };
    this.live.set(key, entry);
    if (this.live.size > this.peakLive) this.peakLive = this.live.size;
    return entry;
  }

  /**
   * Passivates least-recently-used unpinned actors until at most maxLive - room are live (pinned ones count but are
   * not in the list; when all live actors are pinned this returns at once). Each visited entry is normally
   * passivated, so the work is O(passivated); one that cannot go (its state moved without a write: not expected,
   * kept as a guard) leaves the list until its next pin/unpin, so it is looked at once.
   */
  private trim(room = 0): void {
    const max = Math.max(1, this.maxLive - room);
    for (let e = this.oldest; e && this.live.size > max;) {
      const next = e.next;
      this.trimVisits++;
      if (!this.passivate(e)) this.unlink(e);
      e = next;
    }
  }

  /** Takes a pin (busy or write) on a live entry: its first pin takes it out of the passivation list. */
  private pin(e: Entry): void {
    if (e.busy === 0 && e.writes === 0) this.unlink(e);
  }

  /** After a pin was released: the last one puts a still-live entry back at the recent end of the list. */
  private unpinned(e: Entry): void {
    if (e.busy === 0 && e.writes === 0 && this.live.get(e.key) === e && !this.listed(e)) this.append(e);
  }

  private listed(e: Entry): boolean {
    return e.prev !== undefined || this.oldest === e;
  }

  private append(e: Entry): void {
    e.prev = this.newest;
    e.next = undefined;
    if (this.newest) this.newest.next = e;
    else this.oldest = e;
    this.newest = e;
  }

  private unlink(e: Entry): void {
    if (e.prev) e.prev.next = e.next;
    else if (this.oldest === e) this.oldest = e.next;
    if (e.next) e.next.prev = e.prev;
    else if (this.newest === e) this.newest = e.prev;
    e.prev = e.next = undefined;
  }

  private drop(e: Entry): void {
    this.live.delete(e.key);
    this.unlink(e);
  }

  /** Stops an actor whose latest state is durable; a later use restores it from its snapshot. */
  private passivate(e: Entry): boolean {
    if (e.busy > 0 || e.writes > 0 || e.actor.getSnapshot().context.rev !== e.persistedRev) return false;
    e.actor.stop();
    this.drop(e);
    return true;
  }
}
