// The node's sync scheduler (spec §9.6): one XState actor per node that runs sync cycles — pick eligible
// peers, pull from them in order until one succeeds or reports a fork, put failing peers on cooldown,
// and compute when the next cycle is due (protocol/sync-backoff.ts `finishSync`). Peer records
// (failures, cooldown_until, last success) and the scheduler state live in the LevelDB sublevel
// `sync-peers`, written through the node's group committer, so a restart keeps the ladder and the
// cooldowns.
//
// The machine owns its timer (issue 9): `idle` waits with an `after` delay computed from the absolute
// `next_sync_due_at` in its context (restored from the store at start), so there is no timer or waiter list
// beside it; `contact(url)` and the cycle's result move the deadline by sending it an event.
//
// Healing (issue 8 item 6): a peer nobody answered (refused, timeout) cools down for one sync interval, not
// the §9.6 120 s meant for peers that answered badly; a successful contact with a peer (a push it answered,
// an authenticated request from it, a leaf link back) clears its cooldown and the cycle ladder and brings the
// next cycle forward. Partitions, forks, rebuilds and recoveries are logged at warn/info with peer and counts.
import { assign, createActor, fromPromise, setup, waitFor, type Actor } from 'xstate';
import type { Logger } from 'pino';
import type { PeerPort } from '../ports/peer.js';
import type { ChainActor } from './chain-actor.js';
import type { Clock } from '../protocol/clock.js';
import { InfonetError, isInfonetError } from '../protocol/errors.js';
import type { Identity } from '../protocol/identity.js';
import { normalizePeerUrl, parsePeerList } from '../protocol/peer-url.js';
import type { Settings } from '../protocol/settings.js';
import {
  finishSync, initialSyncState, isPeerRateLimited, isPeerUnreachable, peerCooldownS, peerErrorCooldownS, retryAfterOf,
  unreachableCooldownS, type SyncOutcome, type SyncSchedulerState,
} from '../protocol/sync-backoff.js';
import { sublevel, type Db, type Sublevel } from '../store/db.js';
import type { GroupCommitter } from '../store/group-commit.js';
import { peerAllowed, PRIVATE_TRANSPORT_ERROR } from '../protocol/peer-call.js';
import { dropCarry, newReadAheadCarry, PEER_BEHIND, PEER_REBUILDS_FROM_US, syncFromPeer, type SyncFromPeerResult } from './sync-client.js';
import { KeptAside, type KeptAsideMetrics } from './sync-rebuild.js';
import { unrefClock } from '../protocol/unref-clock.js';

export type PeerRole = 'relay' | 'seed';
export type PeerSource = 'config' | 'bundle' | 'promoted';

/** A sync peer as persisted in `sync-peers` (`peer|<url>`). Times are clock seconds. */
export interface SyncPeerRecord {
  url: string;
  role: PeerRole;
  source: PeerSource;
  added_at: number;
  failures: number;
  cooldown_until: number;
  last_error: string;
  last_success_at: number;
}

export interface SyncPeerConfig {
  url: string;
  role?: PeerRole;
  source?: PeerSource;
}

export interface CycleReport {
  outcome: SyncSchedulerState['lastOutcome'];
  error: string;
  state: SyncSchedulerState;
  tried: Array<{ url: string; ok: boolean; error: string; note?: string }>;
}

/** What the scheduler needs from the node (InfonetNode has all of it). */
export interface SyncHost {
  nodeId: string;
  db: Db;
  chain: ChainActor;
  settings: Settings;
  clock: Clock;
  logger?: Logger;
  /** The node's peer port (node/peer-transports.ts); absent = no outbound sync (tests pass `syncPeer`). */
  peers?: PeerPort;
  /** URL this node signs bus sync requests as (`nats://<node id>`), '' without a bus. */
  busSelfUrl?: string;
  /** The node identity: its events are re-appended after a fork rebuild (§9.3 item 2). */
  identity?: Identity;
}

export interface StartSyncOptions {
  /** Sync peers; default MESH_RELAY_PEERS as `relay` peers from `config`. */
  peers?: SyncPeerConfig[];
  /** One peer's sync; default actors/sync-client.ts over the host's peer port. May throw typed errors. */
  syncPeer?: (url: string) => Promise<SyncFromPeerResult>;
  /** Run cycles when they fall due (default true). Tests drive cycles with runCycle(). */
  timer?: boolean;
  /** Node runtime enabled (default true); disabled → outcome `disabled`. */
  enabled?: boolean;
  committer?: GroupCommitter;
}

export interface SyncMetrics extends KeptAsideMetrics {
  forks_detected_total: number;
  peers_behind_total: number;
  /** Peers that became unreachable after a success (a partition, a stop). */
  partitions_total: number;
  /** Contacts that cleared a peer's cooldown / the ladder. */
  contact_heals_total: number;
  /** Events pushed to behind peers (§8.5 peer-push). */
  pushed_to_behind_total: number;
}

export interface SyncScheduler {
  runCycle(): Promise<CycleReport>;
  /**
   * A successful contact with `url` (a push it answered, an authenticated request from it, a link back):
   * clears that peer's cooldown and the cycle ladder and brings the next cycle forward.
   */
  contact(url: string): void;
  state(): SyncSchedulerState;
  /** Cycles run since start (any outcome). */
  cycles(): number;
  peers(): SyncPeerRecord[];
  metrics(): SyncMetrics;
  stop(): Promise<void>;
}

const PEER_PREFIX = 'peer|';
const STATE_KEY = 'scheduler';
/** setTimeout's limit; a longer wait re-enters `idle` and waits again (issue 8 item 4: no 1 ms overflow). */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** A contact brings the next cycle to at most this far ahead (s), so a burst of contacts costs one cycle. */
const CONTACT_SYNC_DELAY_S = 0.2;

const isSeed = (p: SyncPeerRecord): boolean => p.role === 'seed' || p.source === 'bundle' || p.source === 'promoted';

/** §9.6 order: most recent success first, seeds first, fewest failures, oldest added, URL. */
export function orderPeers(peers: readonly SyncPeerRecord[]): SyncPeerRecord[] {
  return [...peers].sort((a, b) =>
    b.last_success_at - a.last_success_at
    || Number(isSeed(b)) - Number(isSeed(a))
    || a.failures - b.failures
    || a.added_at - b.added_at
    || (a.url < b.url ? -1 : a.url > b.url ? 1 : 0));
}

type MachineEvent = { type: 'RUN' } | { type: 'DUE'; at: number } | { type: 'STOP' };

interface MachineContext {
  /** Absolute clock seconds the next cycle is due (mirrors the persisted `next_sync_due_at`). */
  dueAt: number;
  /** An earlier deadline asked for while a cycle ran (a contact); applied when the cycle ends. */
  pendingDueAt: number | null;
  cycles: number;
  last: CycleReport | null;
  failed: boolean;
}

export async function startSync(host: SyncHost, opts: StartSyncOptions = {}): Promise<SyncScheduler> {
  const { chain, settings, clock, logger } = host;
  const store: Sublevel = sublevel(host.db, 'sync-peers');
  const committer = opts.committer ?? chain.ledger.store.committer;
  const peerSettings = settings.peers;
  const kept = await KeptAside.open(host.db, committer);
  const counters = { forks_detected_total: 0, peers_behind_total: 0, partitions_total: 0, contact_heals_total: 0, pushed_to_behind_total: 0 };

  // ---- persisted state ------------------------------------------------------------------------------
  let sched: SyncSchedulerState = { ...initialSyncState(), ...(((await store.get(STATE_KEY)) as SyncSchedulerState | undefined) ?? {}) };
  const records = new Map<string, SyncPeerRecord>();
  for await (const [k, v] of store.iterator({ gte: PEER_PREFIX, lt: `${PEER_PREFIX}\uffff` }) as AsyncIterable<[string, SyncPeerRecord]>) {
    records.set(k.slice(PEER_PREFIX.length), v);
  }
  const configured = (opts.peers ?? parsePeerList(peerSettings.relayPeers).map((url): SyncPeerConfig => ({ url })))
    .map((p) => ({ ...p, url: normalizePeerUrl(p.url) }))
    .filter((p) => p.url);
  const active = new Set<string>();
  const now0 = clock();
  for (const p of configured) {
    active.add(p.url);
    const prev = records.get(p.url);
    records.set(p.url, {
      url: p.url, role: p.role ?? prev?.role ?? 'relay', source: p.source ?? prev?.source ?? 'config', added_at: prev?.added_at ?? now0,
      failures: prev?.failures ?? 0, cooldown_until: prev?.cooldown_until ?? 0, last_error: prev?.last_error ?? '', last_success_at: prev?.last_success_at ?? 0,
    });
  }

  // ---- one peer's sync ------------------------------------------------------------------------------
  // Pages a cycle asked for ahead go on to the next cycle when it syncs from the same peer at the same head.
  const carry = newReadAheadCarry();
  const syncPeer = opts.syncPeer ?? ((url: string) => {
    if (!host.peers) return Promise.reject(new InfonetError('unavailable', 'no peer transports configured'));
    return syncFromPeer(url, chain, {
      transports: host.peers, settings: peerSettings, clock, selfUrl: peerSettings.publicPeerUrl, busSelfUrl: host.busSelfUrl ?? '',
      kept, carry, ...(host.identity ? { identity: host.identity } : {}), ...(logger ? { logger } : {}),
    });
  });

  let writes: Promise<void> = Promise.resolve();
  /** Persists records + scheduler state; writes are chained so a later state never lands before an earlier one. */
  const persist = (): Promise<void> => {
    const ops = [
      ...[...records.values()].map((r) => ({ type: 'put' as const, key: PEER_PREFIX + r.url, value: { ...r }, sublevel: store })),
      { type: 'put' as const, key: STATE_KEY, value: { ...sched }, sublevel: store },
    ];
    writes = writes.catch(() => undefined).then(() => committer.write(ops));
    return writes;
  };

  async function cycle(): Promise<CycleReport> {
    const start = clock();
    const tried: CycleReport['tried'] = [];
    let outcome: SyncOutcome;
    if (opts.enabled === false) {
      outcome = { kind: 'disabled' };
    } else {
      const usable = [...records.values()].filter((r) => active.has(r.url) && peerAllowed(r.url, peerSettings.allowClearnetSync));
      const eligible = orderPeers(usable.filter((r) => r.cooldown_until <= start)).slice(0, peerSettings.syncMaxPeersPerCycle);
      if (usable.length === 0) {
        outcome = peerSettings.allowClearnetSync ? { kind: 'solo' } : { kind: 'error', error: PRIVATE_TRANSPORT_ERROR };
      } else if (eligible.length === 0) {
        // Not a new failure of anyone: wake when the first cooldown ends (the short ladder keeps it near).
        const wait = Math.max(1, Math.ceil(Math.min(...usable.map((r) => r.cooldown_until)) - start));
        outcome = { kind: 'error', error: 'all sync peers are cooling down', retryAfterS: wait, unreachable: true };
      } else {
        outcome = await tryPeers(eligible, tried);
      }
    }
    sched = finishSync(sched, outcome, clock(), { syncIntervalS: peerSettings.syncIntervalS, syncFailureBackoffS: peerSettings.syncFailureBackoffS });
    await persist();
    logger?.[outcome.kind === 'fork' ? 'warn' : outcome.kind === 'error' ? 'debug' : 'info']({ outcome: outcome.kind, error: sched.lastError, next: sched.nextSyncDueAt, height: chain.length }, 'sync cycle');
    return { outcome: sched.lastOutcome, error: sched.lastError, state: { ...sched }, tried };
  }

  async function tryPeers(eligible: SyncPeerRecord[], tried: CycleReport['tried']): Promise<SyncOutcome> {
    let last: SyncOutcome = { kind: 'error', error: 'no sync peer answered' };
    let answered = false;
    let allUnreachable = true;
    for (const rec of eligible) {
      let res: SyncFromPeerResult;
      try {
        res = await syncPeer(rec.url);
      } catch (e) {
        const err = isInfonetError(e) ? e : new InfonetError('internal', String((e as Error)?.message ?? e));
        res = { ok: false, error: err.reason, forked: false, retryAfterS: retryAfterOf(err), cause: err, accepted: 0 };
      }
      const now = clock();
      tried.push({ url: rec.url, ok: res.ok, error: res.error, ...(res.note ? { note: res.note } : {}) });
      if (res.ok) {
        if (rec.failures > 0) logger?.info({ peer: rec.url, failures: rec.failures, down_s: rec.last_success_at ? Math.round(now - rec.last_success_at) : null }, 'sync peer reachable again');
        Object.assign(rec, { failures: 0, cooldown_until: 0, last_error: '', last_success_at: now });
        if (res.note === PEER_BEHIND || res.note === PEER_REBUILDS_FROM_US) {
          counters.peers_behind_total++;
          counters.pushed_to_behind_total += res.pushed ?? 0;
          logger?.info({ peer: rec.url, height: chain.length, pushed: res.pushed ?? 0 }, res.note);
        }
        // §9.6 stops at the first peer that succeeds. A peer that had nothing new for us (level, or behind) says
        // nothing about the others, and with "most recent success first" the same level peer would answer every
        // cycle while another one is ahead (found by the 3-node partition test): go on to the next eligible
        // peer (at most MESH_SYNC_MAX_PEERS_PER_CYCLE); stop at the first that gave us events.
        if (res.accepted > 0 || res.rebuilt) return res.more ? { kind: 'ok', more: true } : { kind: 'ok' };
        answered = true;
        continue;
      }
      if (res.forked) {
        counters.forks_detected_total++;
        rec.last_error = res.error;
        return { kind: 'fork', error: res.error };
      }
      const retryAfterS = Math.max(res.retryAfterS, retryAfterOf(res.cause));
      const baseS = isSeed(rec) ? peerSettings.seedFailureCooldownS : peerSettings.relayFailureCooldownS;
      const unreachable = isPeerUnreachable(res.cause);
      allUnreachable &&= unreachable;
      // [tightening] A 429 escalates the cooldown whichever way it surfaced (typed 429 or HTTP error 429).
      const cooldown = isPeerRateLimited(res.cause) || res.cause?.details?.status === 429
        ? peerCooldownS({ baseS, retryAfterS, failureCount: Math.max(rec.failures, sched.consecutiveFailures) })
        : unreachable
          ? Math.max(retryAfterS, unreachableCooldownS({ baseS, syncIntervalS: peerSettings.syncIntervalS }))
          : peerErrorCooldownS({ baseS, retryAfterS });
      if (unreachable && rec.failures === 0 && rec.last_success_at > 0) {
        counters.partitions_total++;
        logger?.warn({ peer: rec.url, last_success_at: rec.last_success_at, error: res.error, height: chain.length }, 'sync peer unreachable after earlier success (partition or peer down)');
      }
      Object.assign(rec, { failures: rec.failures + 1, cooldown_until: now + cooldown, last_error: res.error });
      last = {
        kind: 'error', error: res.error, retryAfterS,
        ...(isSeed(rec) && !unreachable ? { seedPeerCooldownS: cooldown } : {}),
      };
    }
    if (answered) return { kind: 'ok' };
    return last.kind === 'error' && allUnreachable ? { ...last, unreachable: true } : last;
  }

  // ---- the actor --------------------------------------------------------------------------------------
  let current: Promise<CycleReport> | null = null;
  const timerOn = opts.timer !== false;
  const machine = setup({
    types: { context: {} as MachineContext, events: {} as MachineEvent },
    delays: {
      untilDue: ({ context }) => Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil((context.dueAt - clock()) * 1000))),
    },
    guards: {
      due: ({ context }) => timerOn && clock() >= context.dueAt,
      timerOn: () => timerOn,
    },
    actors: {
      cycle: fromPromise<CycleReport, void>(() => {
        const p = cycle();
        current = p;
        void p.catch(() => undefined).finally(() => { if (current === p) current = null; });
        return p;
      }),
      // A stop waits for the cycle in flight (its results are persisted), then ends.
      drain: fromPromise<void, void>(async () => { await current?.catch(() => undefined); }),
    },
  }).createMachine({
    id: 'sync',
    initial: 'idle',
    context: { dueAt: sched.nextSyncDueAt, pendingDueAt: null, cycles: 0, last: null, failed: false },
    states: {
      idle: {
        // The deadline fires `running`; a wait longer than setTimeout allows, or a clock that has not got there
        // yet (manual clocks in tests), re-enters idle and computes the delay again.
        after: { untilDue: [{ guard: 'due', target: 'running' }, { guard: 'timerOn', target: 'idle', reenter: true }] },
        on: {
          RUN: 'running',
          DUE: { target: 'idle', reenter: true, actions: assign({ dueAt: ({ context, event }) => Math.min(context.dueAt, event.at) }) },
          STOP: 'stopped',
        },
      },
      running: {
        invoke: {
          src: 'cycle',
          onDone: {
            target: 'idle',
            actions: assign({
              cycles: ({ context }) => context.cycles + 1, last: ({ event }) => event.output, failed: false,
              dueAt: ({ context, event }) => Math.min(event.output.state.nextSyncDueAt, context.pendingDueAt ?? Infinity), pendingDueAt: null,
            }),
          },
          onError: {
            target: 'idle',
            actions: assign({
              cycles: ({ context }) => context.cycles + 1, failed: true,
              dueAt: ({ context }) => Math.min(sched.nextSyncDueAt, context.pendingDueAt ?? Infinity), pendingDueAt: null,
            }),
          },
        },
        on: {
          DUE: { actions: assign({ pendingDueAt: ({ context, event }) => Math.min(context.pendingDueAt ?? Infinity, event.at) }) },
          STOP: 'stopping',
        },
      },
      stopping: { invoke: { src: 'drain', onDone: 'stopped', onError: 'stopped' } },
      stopped: { type: 'final' },
    },
  });
  const actor: Actor<typeof machine> = createActor(machine, { clock: unrefClock });
  actor.start();
  let stopped = false;
  const lastHealAt = new Map<string, number>();

  return {
    async runCycle(): Promise<CycleReport> {
      if (stopped) throw new InfonetError('unavailable', 'sync scheduler stopped');
      const before = actor.getSnapshot().context.cycles;
      if (actor.getSnapshot().value === 'idle') actor.send({ type: 'RUN' });
      const snap = await waitFor(actor, (s) => s.context.cycles > before || s.status === 'done', { timeout: Infinity });
      if (snap.context.cycles > before && !snap.context.failed && snap.context.last) return snap.context.last;
      throw snap.status === 'done' ? new InfonetError('unavailable', 'sync scheduler stopped') : new Error('sync cycle failed');
    },
    contact(url: string): void {
      const key = normalizePeerUrl(url);
      const rec = key ? records.get(key) : undefined;
      if (stopped || !rec || !active.has(rec.url)) return;
      const now = clock();
      const troubled = rec.failures > 0 || rec.cooldown_until > now || sched.consecutiveFailures > 0;
      // A healthy peer talking to us needs nothing; a peer that keeps failing our sync while pushing to us
      // triggers at most one extra cycle per interval.
      if (!troubled || now - (lastHealAt.get(rec.url) ?? -Infinity) < peerSettings.syncIntervalS) return;
      lastHealAt.set(rec.url, now);
      counters.contact_heals_total++;
      logger?.info({ peer: rec.url, failures: rec.failures, cooldown_left_s: Math.max(0, Math.round(rec.cooldown_until - now)), cycle_failures: sched.consecutiveFailures }, 'sync peer contact: cooldown and ladder cleared, syncing soon');
      Object.assign(rec, { failures: 0, cooldown_until: 0 });
      const at = now + Math.min(CONTACT_SYNC_DELAY_S, peerSettings.syncIntervalS);
      sched = { ...sched, consecutiveFailures: 0, nextSyncDueAt: Math.min(sched.nextSyncDueAt, at) };
      void persist().catch((e: unknown) => logger?.error({ err: String(e) }, 'sync state write failed'));
      actor.send({ type: 'DUE', at });
    },
    state: () => ({ ...sched }),
    cycles: () => actor.getSnapshot().context.cycles,
    peers: () => [...records.values()].map((r) => ({ ...r })),
    metrics: () => ({ ...kept.metrics, ...counters }),
    async stop() {
      if (stopped) return;
      stopped = true;
      actor.send({ type: 'STOP' });
      await waitFor(actor, (s) => s.status === 'done', { timeout: Infinity });
      await dropCarry(carry);
      await writes.catch(() => undefined);
      actor.stop();
    },
  };
}
