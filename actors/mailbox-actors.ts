// The live set of mailbox actors behind the registry (split out of actors/mailbox-registry.ts): spawn on first use,
// restore from the LevelDB snapshot when passivated, passivate (stop; the snapshot is already durable) when idle or
// when more than `maxLive` actors are live, so memory stays bounded however many mailboxes exist. Every command's
// resulting state is written through the group committer and `exec` resolves only after that write is durable.
import type { BatchOp } from '../store/group-commit.js';
import type { MailboxStore } from '../store/mailbox-store.js';
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
  /** LRU list neighbours (older / newer). */
  prev?: Entry;
  next?: Entry;
}

export class MailboxActors {
  private readonly live = new Map<string, Entry>();
  /**
   * Least recently used first. An intrusive list, not the Map's insertion order: a Map churned by delete+set keeps
   * the deleted slots until it rehashes, and every LRU scan from its start walked them (issue 14 profile).
   */
  private oldest?: Entry;
  private newest?: Entry;
  private readonly loading = new Map<string, Promise<Entry | null>>();
  /** Highest number of simultaneously live actors seen (for tests and benchmarks). */
  peakLive = 0;

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
      this.trim();
    }
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
    const snap = entry.actor.getSnapshot();
    const ctx = snap.context;
    let ops: BatchOp[] = extraOps ?? [];
    if (ctx.rev !== entry.persistedRev) {
      entry.persistedRev = ctx.rev;
      const empty = isEmptyMailbox(ctx.mailbox as MailboxState);
      const record = empty ? null : { snapshot: entry.actor.getPersistedSnapshot(), deadline: ctx.deadline };
      ops = [...this.store.mailboxOps(entry.key, record, entry.persistedDeadline), ...ops];
      entry.persistedDeadline = record ? ctx.deadline : null;
    }
    if (ops.length === 0) return Promise.resolve();
    entry.writes++;
    return this.store.write(ops).then(
      () => { entry.writes--; this.trim(); },
      (e) => {
        entry.writes--;
        // The in-memory state is ahead of the disk: drop the actor so the next use reloads the truth.
        this.store.markMayExist(entry.key);
        entry.actor.stop();
        if (this.live.get(entry.key) === entry) this.drop(entry);
        throw e;
      },
    );
  }

  /** Returns the live entry for `key`, pinned (busy+1) so it cannot be passivated until released. */
  private async acquire(key: string, create: boolean): Promise<Entry | null> {
    for (;;) {
      const live = this.live.get(key);
      if (live) {
        live.busy++;
        this.touch(live);
        return live;
      }
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
    this.trim(1);
    const actor = startMailboxActor(this.machine, key, rec?.snapshot);
    const entry: Entry = {
      key, actor, persistedRev: actor.getSnapshot().context.rev, persistedDeadline: rec?.deadline ?? null,
      busy: 0, writes: 0, lastUsed: Date.now(), inCommand: false,
    };
    // Timer-driven expiry changes state outside a command: persist those too.
    actor.subscribe(() => {
      if (!entry.inCommand && actor.getSnapshot().context.rev !== entry.persistedRev) void this.persist(entry).catch(() => undefined);
    });
    this.live.set(key, entry);
    this.append(entry);
    if (this.live.size > this.peakLive) this.peakLive = this.live.size;
    return entry;
  }

  /**
   * Passivates least-recently-used idle actors until at most maxLive - room are live. An entry that cannot go yet
   * (busy, or its write not yet durable) is in use, so it moves to the recent end: under a deposit burst the oldest
   * entries are exactly those waiting for the fsync, and scanning past all of them on every spawn cost O(in-flight)
   * per deposit (issue 14 profile). Each entry is looked at most once per call.
   */
  private trim(room = 0): void {
    const max = Math.max(1, this.maxLive - room);
    let budget = this.live.size;
    for (let e = this.oldest; e && this.live.size > max && budget-- > 0;) {
      const next = e.next;
      if (!this.passivate(e)) this.touch(e);
      e = next;
    }
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

  private touch(e: Entry): void {
    if (this.newest === e) return;
    this.unlink(e);
    this.append(e);
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
