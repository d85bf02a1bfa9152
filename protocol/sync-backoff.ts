// Sync scheduling after failures (spec §9.6): the cycle's exponential ladder, per-peer cooldowns, the
// scheduler state reducer, and the typed errors a failed peer call surfaces as.
import { ErrorCodes, InfonetError } from './errors.js';
import type { PeerSettings } from './settings.js';

export const SYNC_BACKOFF_CAP_S = 1800;
const MAX_LADDER_EXPONENT = 16;
const RATE_LIMIT_COOLDOWN_CAP_S = 900;
/** The unreachable-peer ladder stops at this many sync intervals (and at the spec's base, whichever is lower). */
export const UNREACHABLE_LADDER_INTERVALS = 4;

export interface SyncDelayInput {
  /** Consecutive failed cycles including this one (≥ 1 after a failure). */
  failures: number;
  baseS: number;
  /** 0 disables the ladder: the delay is then just the peer's hint. */
  capS?: number;
  retryAfterS?: number;
}

/** `max(min(base × 2^(failures−1), cap), retryAfter)`; with base 60: 60, 120, 240, 480, 960, 1800, … */
export function nextSyncDelay({ failures, baseS, capS = SYNC_BACKOFF_CAP_S, retryAfterS = 0 }: SyncDelayInput): number {
  const hint = Math.max(0, retryAfterS);
  if (capS <= 0) return hint;
  const exponent = Math.min(Math.max(failures - 1, 0), MAX_LADDER_EXPONENT);
  return Math.max(Math.min(Math.max(baseS, 0) * 2 ** exponent, capS), hint);
}

export interface PeerCooldownInput {
  /** MESH_RELAY_FAILURE_COOLDOWN_S, or MESH_BOOTSTRAP_SEED_FAILURE_COOLDOWN_S for seed peers. */
  baseS: number;
  retryAfterS: number;
  /** max(peer record failures, scheduler consecutive failures), before this failure. */
  failureCount: number;
}

/** Cooldown of a peer that answered 429: `max(base, retryAfter, min(900, 60 × 2^min(failures, 4)))`. */
export function peerCooldownS({ baseS, retryAfterS, failureCount }: PeerCooldownInput): number {
  const escalation = Math.min(RATE_LIMIT_COOLDOWN_CAP_S, 60 * 2 ** Math.min(Math.max(failureCount, 0), 4));
  return Math.max(baseS, retryAfterS, escalation);
}

/** Cooldown of a peer after any other failure: the base, raised to a Retry-After hint if one came. */
export function peerErrorCooldownS({ baseS, retryAfterS = 0 }: { baseS: number; retryAfterS?: number }): number {
  return Math.max(baseS, retryAfterS);
}

/**
 * A peer that could not be reached at all (connection refused, no responders, no answer in time): the
 * §9.6 failure cooldown (120 s) is meant for peers that answered badly. For a peer that is simply not up
 * yet (start-up order) or cut off (partition) it kept healed peers out for minutes (issue 8: heads took
 * 140–146 s to converge with a 5 s interval), so an unreachable peer waits one sync interval, never more
 * than the spec's base. A contact from the peer clears even that (actors/sync-actor.ts `contact`).
 */
export function unreachableCooldownS({ baseS, syncIntervalS }: { baseS: number; syncIntervalS: number }): number {
  return Math.max(1, Math.min(baseS, syncIntervalS));
}

/** Errors that mean "nobody answered" rather than "the peer answered with a failure". */
export function isPeerUnreachable(err: unknown): boolean {
  return err instanceof InfonetError && (err.code === ErrorCodes.UNAVAILABLE || err.code === ErrorCodes.TIMEOUT);
}

// ---- scheduler state -------------------------------------------------------------------------------

export type SyncLastOutcome = 'never' | 'ok' | 'solo' | 'disabled' | 'error' | 'fork';

export interface SyncSchedulerState {
  consecutiveFailures: number;
  /** Clock seconds; 0 = due now. */
  nextSyncDueAt: number;
  lastOutcome: SyncLastOutcome;
  lastError: string;
  /** Clock seconds of the last finished cycle, 0 before the first. */
  lastSyncAt: number;
}

export const initialSyncState = (): SyncSchedulerState => ({
  consecutiveFailures: 0,
  nextSyncDueAt: 0,
  lastOutcome: 'never',
  lastError: '',
  lastSyncAt: 0,
});

export type SyncOutcome =
  | {
      kind: 'ok';
      /**
       * [tightening] A peer still had full pages when the §9.3 rounds ran out: the next cycle is due at once
       * (CATCH_UP_NEXT_CYCLE_S), not a whole interval later (at 500 events a cycle and 300 s a fresh node needed
       * about a week to catch up a 1,000,000-event chain; with a 1 s pause, as before issue 14's last pass, a cycle
       * of ~0.1–0.4 s still left a catching-up node idle most of the time).
       */
      more?: boolean;
    }
  | { kind: 'solo' }
  | { kind: 'disabled' }
  | {
      kind: 'error' | 'fork';
      error: string;
      retryAfterS?: number;
      /** Set when the failing peer is a seed: its cooldown raises the ladder base (§9.6). */
      seedPeerCooldownS?: number;
      /** Every peer tried was unreachable (nobody answered): the short ladder applies. */
      unreachable?: boolean;
    };

export type SyncScheduleSettings = Pick<PeerSettings, 'syncIntervalS' | 'syncFailureBackoffS'> & {
  syncFailureCapS?: number;
};

/** The scheduler's state after a cycle ends (`finish_sync`, §9.6). Pure: `now` is clock seconds. */
/** Delay of the next cycle while a peer still has more for us (see SyncOutcome `more`): none. */
export const CATCH_UP_NEXT_CYCLE_S = 0;

export function finishSync(
  state: SyncSchedulerState,
  outcome: SyncOutcome,
  now: number,
  settings: SyncScheduleSettings,
): SyncSchedulerState {
  if (outcome.kind === 'ok' || outcome.kind === 'solo' || outcome.kind === 'disabled') {
    const catchingUp = outcome.kind === 'ok' && outcome.more === true;
    return {
      consecutiveFailures: 0,
      nextSyncDueAt: now + (catchingUp ? Math.min(CATCH_UP_NEXT_CYCLE_S, settings.syncIntervalS) : settings.syncIntervalS),
      lastOutcome: outcome.kind,
      lastError: '',
      lastSyncAt: now,
    };
  }
  const failures = state.consecutiveFailures + 1;
  // Unreachable peers: a ladder from one sync interval up to 4 intervals, never above the spec's base (5, 10,
  // 20, 20 … with a 5 s interval; 60, 60 … with the default 300 s), so a node started before its peers, or cut
  // off by a partition, finds them again within a few intervals even when no contact arrives first.
  // Peers that answered with an error keep the §9.6 ladder (60, 120, 240 … 1800).
  const short = outcome.kind === 'error' && outcome.unreachable === true && !outcome.seedPeerCooldownS;
  const baseS = short
    ? unreachableCooldownS({ baseS: settings.syncFailureBackoffS, syncIntervalS: settings.syncIntervalS })
    : Math.max(settings.syncFailureBackoffS, outcome.seedPeerCooldownS ?? 0);
  const delay = nextSyncDelay({
    failures,
    baseS,
    capS: short ? Math.max(baseS, Math.min(settings.syncFailureBackoffS, UNREACHABLE_LADDER_INTERVALS * settings.syncIntervalS)) : settings.syncFailureCapS ?? SYNC_BACKOFF_CAP_S,
    retryAfterS: outcome.retryAfterS ?? 0,
  });
  return {
    consecutiveFailures: failures,
    nextSyncDueAt: now + delay,
    lastOutcome: outcome.kind,
    lastError: outcome.error,
    lastSyncAt: now,
  };
}

// ---- typed peer errors -----------------------------------------------------------------------------

/** A 429 answer; never reported as a generic error so the scheduler honours `retry_after_s`. */
export function peerRateLimitedError(peer: string, retryAfterS: number, bodyText: string): InfonetError {
  return new InfonetError(
    ErrorCodes.RATE_LIMITED,
    `HTTP 429 from ${peer} (retry_after=${retryAfterS}s): ${bodyText.slice(0, 200)}`,
    { status: 429, peer, retry_after_s: retryAfterS },
  );
}

/** Any other non-200 answer with a JSON body: message `HTTP <status>: <detail>`, never `HTTP 503: HTTP 503`. */
export function peerHttpError(status: number, detail: string, retryAfterS: number): InfonetError {
  const d = (detail ?? '').trim();
  const prefix = `HTTP ${status}`;
  const message = d === '' || d === prefix ? prefix : d.startsWith(`${prefix}:`) ? d : `${prefix}: ${d}`;
  return new InfonetError(ErrorCodes.PEER_HTTP, message, { status, detail: d || prefix, retry_after_s: retryAfterS });
}

/** The Retry-After hint an error carries (0 when none). */
export function retryAfterOf(err: unknown): number {
  if (!(err instanceof InfonetError)) return 0;
  const v = err.details?.retry_after_s;
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0;
}

/** True for a 429 on either path (typed rate-limit error, or a typed HTTP error with status 429). */
export function isPeerRateLimited(err: unknown): boolean {
  if (!(err instanceof InfonetError)) return false;
  return err.code === ErrorCodes.RATE_LIMITED || (err.code === ErrorCodes.PEER_HTTP && err.details?.status === 429);
}
