// One actor per mailbox. It owns the mailbox state, processes its commands one at a time (a FIFO: a command sent
// while another runs waits its turn), decides with the pure rules of protocol/mailbox-rules.ts, and keeps the next
// expiry as an ABSOLUTE deadline in its context, so a restored actor re-arms its timer from the clock.
// Persistence is the registry's job (it writes every new snapshot before acknowledging).
//
// Issue 14: this used to be an XState machine per mailbox. Its start (createActor + initial macrostep) and its
// getPersistedSnapshot() (a deep copy) dominated the replicated-deposit profile — a relay spawns or restores an
// actor for most deposits — so the actor is now state as data: one small object, one unref'd timer, immutable
// MailboxState values from protocol/ (a snapshot is the current context object itself, never copied). The
// persisted form keeps the `{ context: { mailbox, deadline, rev } }` shape, and old XState snapshots (same
// `context`) restore unchanged.
import type { Clock } from '../protocol/clock.js';
import {
  type Decision, type DepositResult, type MailboxState, type RelayLimits, type ReplicaResult, type StoredMessage,
  depositIntoMailbox, emptyMailbox, nextDeadline, purgeExpired, replicaIntoMailbox, takeMessages,
} from '../protocol/mailbox-rules.js';

export interface MailboxContext {
  mailbox: MailboxState;
  /** Absolute time (s) of the next expiry, null when nothing can expire. */
  deadline: number | null;
  /** Bumped on every change of `mailbox`; the registry persists when it moves. */
  rev: number;
}

export type MailboxEvent =
  | { type: 'DEPOSIT'; candidate: StoredMessage; cls: string; reply(d: Decision<DepositResult>): void }
  | { type: 'REPLICA'; candidate: StoredMessage; cls: string; reply(d: Decision<ReplicaResult>): void }
  | { type: 'PEEK'; reply(pending: StoredMessage[]): void }
  | { type: 'TAKE'; msgIds: string[]; reply(taken: StoredMessage[]): void }
  | { type: 'PURGE' }
  | { type: 'RESUME' };

export interface MailboxDeps {
  clock: Clock;
  limits: RelayLimits;
  /** Called (synchronously, inside the transition) with messages that expired. Must not re-enter. */
  onExpired(mailboxKey: string, expired: StoredMessage[]): void;
  /** Called (synchronously) with the old and the new state on every change: the counts of actors/mailbox-stats.ts. */
  onChange?(before: MailboxState, after: MailboxState): void;
}

/** What every mailbox actor shares: its dependencies (the "machine" the actors run). */
export interface MailboxMachine {
  readonly deps: MailboxDeps;
}

/** What a snapshot looks like (live and persisted alike: plain data, msgpack-able). */
export interface MailboxSnapshot {
  status: 'active' | 'stopped';
  context: MailboxContext;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/** The context of a persisted snapshot (this actor's, or an old XState one: same `context`), or undefined when it has no mailbox. */
export function persistedContext(snapshot: unknown): MailboxContext | undefined {
  const ctx = (snapshot as { context?: MailboxContext } | undefined)?.context;
  return ctx && ctx.mailbox ? ctx : undefined;
}

export function createMailboxMachine(deps: MailboxDeps): MailboxMachine {
  return { deps };
}

export class MailboxActor {
  private ctx: MailboxContext;
  private timer: NodeJS.Timeout | undefined;
  private armedFor: number | null = null;
  private stopped = false;
  private running = false;
  private readonly queue: MailboxEvent[] = [];
  /** Created on the first subscribe() (the live set passes its one listener to the constructor instead). */
  private listeners: Set<() => void> | undefined;

  /** `onSelfChange`: like a subscribe() from the start, without a Set and a subscription per actor (issue 14). */
  constructor(private readonly machine: MailboxMachine, key: string, snapshot?: unknown, private onSelfChange?: () => void) {
    const restored = persistedContext(snapshot);
    this.ctx = restored ? { mailbox: restored.mailbox, deadline: restored.deadline ?? null, rev: restored.rev ?? 0 } : { mailbox: emptyMailbox(key), deadline: null, rev: 0 };
  }

  start(): this {
    this.arm();
    return this;
  }

  getSnapshot(): MailboxSnapshot {
    return { status: this.stopped ? 'stopped' : 'active', context: this.ctx };
  }

  /** The persisted form: the context object itself (its MailboxState is never mutated, only replaced). */
  getPersistedSnapshot(): MailboxSnapshot {
    return { status: 'active', context: this.ctx };
  }

  /** Called after a change the actor made by itself (timer-driven expiry); returns the unsubscribe. */
  subscribe(fn: () => void): { unsubscribe(): void } {
    const listeners = (this.listeners ??= new Set());
    listeners.add(fn);
    return { unsubscribe: () => { listeners.delete(fn); } };
  }

  send(event: MailboxEvent): void {
    if (this.stopped) return;
    this.queue.push(event);
    if (this.running) return; // a reply re-entered: runs after the current command, in order
    this.running = true;
    try {
      for (let e = this.queue.shift(); e; e = this.queue.shift()) this.handle(e);
    } finally {
      this.running = false;
    }
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.listeners?.clear();
    this.onSelfChange = undefined;
  }

  private handle(event: MailboxEvent): void {
    const { clock, limits } = this.machine.deps;
    switch (event.type) {
      case 'DEPOSIT':
      case 'REPLICA': {
        const now = clock();
        const p = this.purged(now);
        const d = event.type === 'DEPOSIT'
          ? depositIntoMailbox(p.state, event.candidate, event.cls, limits, now)
          : replicaIntoMailbox(p.state, event.candidate, event.cls, limits, now);
        this.update(d.ok ? d.state : p.state, p.changed || (d.ok && d.changed));
        (event.reply as (x: typeof d) => void)(d);
        return;
      }
      case 'PEEK': {
        const p = this.purged(clock());
        this.update(p.state, p.changed);
        event.reply(p.state.messages.slice());
        return;
      }
      case 'TAKE': {
        const now = clock();
        const p = this.purged(now);
        const t = takeMessages(p.state, event.msgIds, now, limits);
        this.update(t.state, p.changed || t.changed);
        event.reply(t.taken);
        return;
      }
      case 'PURGE': {
        const p = this.purged(clock());
        this.update(p.state, p.changed);
        return;
      }
      case 'RESUME':
        return; // the timer is re-armed after every command
    }
  }

  /** Purge first (§7.3: expired messages are purged before every deposit/poll/count). */
  private purged(now: number): ReturnType<typeof purgeExpired> {
    const p = purgeExpired(this.ctx.mailbox, now, this.machine.deps.limits);
    if (p.expired.length) this.machine.deps.onExpired(this.ctx.mailbox.key, p.expired);
    return p;
  }

  private update(mailbox: MailboxState, changed: boolean): void {
    if (!changed) return;
    this.machine.deps.onChange?.(this.ctx.mailbox, mailbox);
    this.ctx = { mailbox, deadline: nextDeadline(mailbox, this.machine.deps.limits), rev: this.ctx.rev + 1 };
  }

  /** (Re-)arms the expiry timer for the current deadline; a timer already set for it stays. */
  private arm(): void {
    if (this.stopped) return;
    const deadline = this.ctx.deadline;
    if (deadline === this.armedFor && (this.timer || deadline === null)) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = deadline;
    if (deadline === null) return;
    const ms = Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil((deadline - this.machine.deps.clock()) * 1000)));
    this.timer = setTimeout(() => this.fire(), ms);
    this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    this.armedFor = null;
    if (this.stopped) return;
    const rev = this.ctx.rev;
    this.send({ type: 'PURGE' });
    if (this.ctx.rev === rev) return;
    this.onSelfChange?.();
    if (this.listeners) for (const fn of [...this.listeners]) fn();
  }
}

/** Starts a fresh mailbox actor, or restores one from a persisted snapshot and re-arms its deadline. */
export function startMailboxActor(machine: MailboxMachine, key: string, snapshot?: unknown, onSelfChange?: () => void): MailboxActor {
  return new MailboxActor(machine, key, snapshot, onSelfChange).start();
}
