// One XState actor per mailbox. It owns the mailbox state, processes its commands one at a time
// (XState's event queue), decides with the pure rules of protocol/mailbox-rules.ts, and keeps the
// next expiry as an ABSOLUTE deadline in context: XState does not re-arm `after` delays on restore,
// so the registry sends RESUME after restoring a snapshot and the delay is recomputed from the clock.
// Persistence is the registry's job (it writes every new snapshot before acknowledging).
import { assign, createActor, enqueueActions, setup, type Actor } from 'xstate';
import type { Clock } from '../protocol/clock.js';
import {
  type Decision, type DepositResult, type MailboxState, type RelayLimits, type ReplicaResult, type StoredMessage,
  depositIntoMailbox, emptyMailbox, nextDeadline, purgeExpired, replicaIntoMailbox, takeMessages,
} from '../protocol/mailbox-rules.js';
import { unrefClock } from './unref-clock.js';

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
}

const MAX_TIMER_MS = 2 ** 31 - 1;

export function createMailboxMachine(deps: MailboxDeps) {
  const { clock, limits } = deps;

  /** Context after `mailbox` changed (rev bumped, deadline recomputed) — or the same context. */
  const withMailbox = (ctx: MailboxContext, mailbox: MailboxState, changed: boolean): MailboxContext =>
    changed ? { mailbox, deadline: nextDeadline(mailbox, limits), rev: ctx.rev + 1 } : ctx;

  /** Purge first (§7.3: expired messages are purged before every deposit/poll/count). */
  const purged = (ctx: MailboxContext, now: number) => {
    const p = purgeExpired(ctx.mailbox, now, limits);
    if (p.expired.length) deps.onExpired(ctx.mailbox.key, p.expired);
    return p;
  };

  return setup({
    types: {} as { context: MailboxContext; events: MailboxEvent; input: { key: string } },
    guards: {
      hasDeadline: ({ context }) => context.deadline !== null,
    },
    delays: {
      untilDeadline: ({ context }) =>
        context.deadline === null ? MAX_TIMER_MS : Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil((context.deadline - clock()) * 1000))),
    },
    actions: {
      purge: assign(({ context }) => {
        const p = purged(context, clock());
        return withMailbox(context, p.state, p.changed);
      }),
      deposit: enqueueActions(({ context, event, enqueue }) => {
        if (event.type !== 'DEPOSIT' && event.type !== 'REPLICA') return;
        const now = clock();
        const p = purged(context, now);
        const d = event.type === 'DEPOSIT'
          ? depositIntoMailbox(p.state, event.candidate, event.cls, limits, now)
          : replicaIntoMailbox(p.state, event.candidate, event.cls, limits, now);
        const next = d.ok ? d.state : p.state;
        enqueue.assign(withMailbox(context, next, p.changed || (d.ok && d.changed)));
        const reply = event.reply as (x: typeof d) => void;
        enqueue(() => reply(d));
      }),
      peek: enqueueActions(({ context, event, enqueue }) => {
        if (event.type !== 'PEEK') return;
        const p = purged(context, clock());
        enqueue.assign(withMailbox(context, p.state, p.changed));
        enqueue(() => event.reply(p.state.messages.slice()));
      }),
      take: enqueueActions(({ context, event, enqueue }) => {
        if (event.type !== 'TAKE') return;
        const now = clock();
        const p = purged(context, now);
        const t = takeMessages(p.state, event.msgIds, now, limits);
        enqueue.assign(withMailbox(context, t.state, p.changed || t.changed));
        enqueue(() => event.reply(t.taken));
      }),
    },
  }).createMachine({
    id: 'mailbox',
    context: ({ input }) => ({ mailbox: emptyMailbox(input.key), deadline: null, rev: 0 }),
    initial: 'route',
    // Every command re-enters `route`, which re-arms the expiry delay from the (possibly new) deadline.
    on: {
      DEPOSIT: { target: '.route', actions: 'deposit' },
      REPLICA: { target: '.route', actions: 'deposit' },
      PEEK: { target: '.route', actions: 'peek' },
      TAKE: { target: '.route', actions: 'take' },
      PURGE: { target: '.route', actions: 'purge' },
      RESUME: { target: '.route' },
    },
    states: {
      route: { always: [{ guard: 'hasDeadline', target: 'armed' }, { target: 'idle' }] },
      idle: {},
      armed: { after: { untilDeadline: { target: 'route', actions: 'purge' } } },
    },
  });
}

export type MailboxMachine = ReturnType<typeof createMailboxMachine>;
export type MailboxActor = Actor<MailboxMachine>;


/** Starts a fresh mailbox actor, or restores one from a persisted snapshot and re-arms its deadline. */
export function startMailboxActor(machine: MailboxMachine, key: string, snapshot?: unknown): MailboxActor {
  const actor = createActor(machine, {
    input: { key },
    clock: unrefClock as never,
    ...(snapshot ? { snapshot: snapshot as never } : {}),
  });
  actor.start();
  if (snapshot) actor.send({ type: 'RESUME' });
  return actor;
}
