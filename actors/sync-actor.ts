// The node's sync scheduler (spec §9.6): one XState actor per node that runs sync cycles — pick eligible
// peers, pull from them in order until one succeeds or reports a fork, put failing peers on cooldown,
// and compute when the next cycle is due (protocol/sync-backoff.ts `finishSync`). Peer records
// (failures, cooldown_until, last success) and the scheduler state live in the LevelDB sublevel
// `sync-peers`, written through the node's group committer, so a restart keeps the ladder and the
// cooldowns; the timer is re-armed from the persisted absolute `next_sync_due_at`.
import { assign, createActor, fromPromise, setup, type Actor } from 'xstate';
import type { Logger } from 'pino';
import type { ChainActor } from './chain-actor.js';
import type { PeerPort } from '../ports/peer.js';
import type { Clock } from '../protocol/clock.js';
import { InfonetError, isInfonetError } from '../protocol/errors.js';
import { normalizePeerUrl, parsePeerList } from '../protocol/peer-url.js';
import type { Settings } from '../protocol/settings.js';
import {
  finishSync, initialSyncState, isPeerRateLimited, peerCooldownS, peerErrorCooldownS, retryAfterOf,
  type SyncOutcome, type SyncSchedulerState,
} from '../protocol/sync-backoff.js';
import { sublevel, type Db, type Sublevel } from '../store/db.js';
import type { GroupCommitter } from '../store/group-commit.js';
import { peerAllowed, PRIVATE_TRANSPORT_ERROR } from '../protocol/peer-call.js';
import { syncFromPeer, type SyncFromPeerResult } from './sync-client.js';

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
  tried: Array<{ url: string; ok: boolean; error: string }>;
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
}

export interface StartSyncOptions {
  /** Sync peers; default MESH_RELAY_PEERS as `relay` peers from `config`. */
  peers?: SyncPeerConfig[];
  /** One peer's sync; default actors/sync-client.ts over the host's peer port. May throw typed errors. */
  syncPeer?: (url: string) => Promise<SyncFromPeerResult>;
  /** Arm the next-due timer (default true). Tests drive cycles with runCycle(). */
  timer?: boolean;
  /** Node runtime enabled (default true); disabled → outcome `disabled`. */
  enabled?: boolean;
  committer?: GroupCommitter;
}

export interface SyncScheduler {
  runCycle(): Promise<CycleReport>;
  state(): SyncSchedulerState;
  peers(): SyncPeerRecord[];
  stop(): Promise<void>;
}

const PEER_PREFIX = 'peer|';
const STATE_KEY = 'scheduler';
const MAX_TIMER_MS = 2 ** 31 - 1;

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

type MachineEvent = { type: 'RUN' } | { type: 'STOP' };

const syncMachine = setup({
  types: {
    context: {} as { cycles: number; last: CycleReport | null; failed: boolean },
    events: {} as MachineEvent,
  },
  actors: {
    // Replaced by .provide() with the scheduler's cycle.
    cycle: fromPromise<CycleReport, void>(async () => {
      throw new Error('cycle not provided');
    }),
    drain: fromPromise<void, void>(async () => undefined),
  },
}).createMachine({
  id: 'sync',
  initial: 'idle',
  context: { cycles: 0, last: null, failed: false },
  states: {
    idle: { on: { RUN: 'running', STOP: 'stopped' } },
    running: {
      invoke: {
        src: 'cycle',
        onDone: { target: 'idle', actions: assign({ cycles: ({ context }) => context.cycles + 1, last: ({ event }) => event.output, failed: false }) },
        onError: { target: 'idle', actions: assign({ cycles: ({ context }) => context.cycles + 1, failed: true }) },
      },
      // A stop waits for the cycle in flight (its results are persisted), then ends.
      on: { STOP: 'stopping' },
    },
    stopping: {
      invoke: { src: 'drain', onDone: 'stopped', onError: 'stopped' },
    },
    stopped: { type: 'final' },
  },
});

export async function startSync(host: SyncHost, opts: StartSyncOptions = {}): Promise<SyncScheduler> {
  const { chain, settings, clock, logger } = host;
  const store: Sublevel = sublevel(host.db, 'sync-peers');
  const committer = opts.committer ?? chain.ledger.store.committer;
  const peerSettings = settings.peers;

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
  const syncPeer = opts.syncPeer ?? ((url: string) => {
    if (!host.peers) return Promise.reject(new InfonetError('unavailable', 'no peer transports configured'));
    return syncFromPeer(url, chain, {
      transports: host.peers, settings: peerSettings, clock, selfUrl: peerSettings.publicPeerUrl, busSelfUrl: host.busSelfUrl ?? '',
    });
  });

  const persist = (): Promise<void> =>
    committer.write([
      ...[...records.values()].map((r) => ({ type: 'put' as const, key: PEER_PREFIX + r.url, value: r, sublevel: store })),
      { type: 'put', key: STATE_KEY, value: sched, sublevel: store },
    ]);

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
        const wait = Math.max(1, Math.ceil(Math.min(...usable.map((r) => r.cooldown_until)) - start));
        outcome = { kind: 'error', error: 'all sync peers are cooling down', retryAfterS: wait };
      } else {
        outcome = await tryPeers(eligible, tried);
      }
    }
    sched = finishSync(sched, outcome, clock(), { syncIntervalS: peerSettings.syncIntervalS, syncFailureBackoffS: peerSettings.syncFailureBackoffS });
    await persist();
    logger?.[outcome.kind === 'error' || outcome.kind === 'fork' ? 'debug' : 'info']({ outcome: outcome.kind, error: sched.lastError, next: sched.nextSyncDueAt }, 'sync cycle');
    return { outcome: sched.lastOutcome, error: sched.lastError, state: { ...sched }, tried };
  }

  async function tryPeers(eligible: SyncPeerRecord[], tried: CycleReport['tried']): Promise<SyncOutcome> {
    let last: SyncOutcome = { kind: 'error', error: 'no sync peer answered' };
    for (const rec of eligible) {
      let res: SyncFromPeerResult;
      try {
        res = await syncPeer(rec.url);
      } catch (e) {
        const err = isInfonetError(e) ? e : new InfonetError('internal', String((e as Error)?.message ?? e));
        res = { ok: false, error: err.reason, forked: false, retryAfterS: retryAfterOf(err), cause: err, accepted: 0 };
      }
      const now = clock();
      tried.push({ url: rec.url, ok: res.ok, error: res.error });
      if (res.ok) {
        Object.assign(rec, { failures: 0, cooldown_until: 0, last_error: '', last_success_at: now });
        return { kind: 'ok' };
      }
      if (res.forked) {
        rec.last_error = res.error;
        return { kind: 'fork', error: res.error };
      }
      const retryAfterS = Math.max(res.retryAfterS, retryAfterOf(res.cause));
      const baseS = isSeed(rec) ? peerSettings.seedFailureCooldownS : peerSettings.relayFailureCooldownS;
      // [tightening] A 429 escalates the cooldown whichever way it surfaced (typed 429 or HTTP error 429).
      const cooldown = isPeerRateLimited(res.cause) || res.cause?.details?.status === 429
        ? peerCooldownS({ baseS, retryAfterS, failureCount: Math.max(rec.failures, sched.consecutiveFailures) })
        : peerErrorCooldownS({ baseS, retryAfterS });
      Object.assign(rec, { failures: rec.failures + 1, cooldown_until: now + cooldown, last_error: res.error });
      last = { kind: 'error', error: res.error, retryAfterS, ...(isSeed(rec) ? { seedPeerCooldownS: cooldown } : {}) };
    }
    return last;
  }

  // ---- the actor --------------------------------------------------------------------------------------
  const waiters: Array<(r: CycleReport) => void> = [];
  let failWaiters: Array<(e: unknown) => void> = [];
  let current: Promise<CycleReport> | null = null;
  const actor: Actor<typeof syncMachine> = createActor(syncMachine.provide({
    actors: {
      cycle: fromPromise<CycleReport, void>(() => {
        const p = cycle();
        current = p;
        void p.catch(() => undefined).finally(() => { if (current === p) current = null; });
        return p;
      }),
      drain: fromPromise<void, void>(async () => { await current?.catch(() => undefined); }),
    },
  }));
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;

  const arm = (): void => {
    if (opts.timer === false || stopped) return;
    if (timer) clearTimeout(timer);
    const ms = Math.min(MAX_TIMER_MS, Math.max(0, (sched.nextSyncDueAt - clock()) * 1000));
    timer = setTimeout(() => {
      timer = null;
      if (!stopped && actor.getSnapshot().value === 'idle') actor.send({ type: 'RUN' });
    }, ms);
    timer.unref?.();
  };

  let seenCycles = 0;
  actor.subscribe((snap) => {
    if (snap.context.cycles === seenCycles) return;
    seenCycles = snap.context.cycles;
    const last = snap.context.last;
    const ws = waiters.splice(0);
    const fs = failWaiters;
    failWaiters = [];
    if (last && !snap.context.failed) for (const w of ws) w(last);
    else for (const f of fs) f(new Error('sync cycle failed'));
    if (snap.value === 'idle') arm();
  });
  actor.start();
  arm();

  return {
    runCycle(): Promise<CycleReport> {
      if (stopped) return Promise.reject(new InfonetError('unavailable', 'sync scheduler stopped'));
      return new Promise<CycleReport>((resolve, reject) => {
        waiters.push(resolve);
        failWaiters.push(reject);
        if (actor.getSnapshot().value === 'idle') actor.send({ type: 'RUN' });
      });
    },
    state: () => ({ ...sched }),
    peers: () => [...records.values()].map((r) => ({ ...r })),
    async stop() {
      if (stopped) return;
      stopped = true;
      if (timer) clearTimeout(timer);
      const inflight = current;
      actor.send({ type: 'STOP' });
      const r = inflight ? await inflight.catch(() => null) : null;
      const ws = waiters.splice(0);
      const fs = failWaiters.splice(0);
      if (r) for (const w of ws) w(r);
      else for (const f of fs) f(new InfonetError('unavailable', 'sync scheduler stopped'));
      actor.stop();
    },
  };
}
