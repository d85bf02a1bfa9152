// Fork application (§9.3): structural checks on the candidate branch, then every fork event through the
// same validation pipeline as ingest (reason strings of the fork path), against the common prefix.
import { CHAIN_LOCK_DEPTH } from './constants.js';
import { applyEvent, type ChainState } from './chain-state.js';
import { ErrorCodes, reject, type Rejection } from './errors.js';
import type { ChainEvent } from './event.js';
import { isPlainObject } from './signed-context.js';
import { validateReceivedEvent, type ValidationContext } from './validate-event.js';

export interface ForkPlan {
  /** Height of the common ancestor (the fork's first event links to it); -1 = genesis. */
  ancestorHeight: number;
}

/** Structural checks that need only the current chain's index (no prefix state). */
export function planFork(
  current: Pick<ChainState, 'length' | 'eventIndex'>,
  events: readonly unknown[],
  headHash: string,
  proofCount: number,
  quorum: number,
  genesisHash: string,
): ForkPlan | Rejection {
  if (!Array.isArray(events) || events.length === 0) return reject(ErrorCodes.FORK, 'empty fork');
  if (proofCount < Math.max(2, quorum)) return reject(ErrorCodes.FORK, 'insufficient quorum');
  const objs = events.map((e) => (isPlainObject(e) ? e : {})) as Record<string, unknown>[];
  if (objs.some((e) => typeof e.prev_hash !== 'string' || !e.prev_hash)) return reject(ErrorCodes.FORK, 'missing prev_hash');
  const first = objs[0].prev_hash as string;
  const ancestorHeight = first === genesisHash ? -1 : current.eventIndex.get(first) ?? null;
  if (ancestorHeight === null) return reject(ErrorCodes.FORK, 'unknown ancestor');
  const headHeight = current.length - 1;
  if (headHeight - ancestorHeight > CHAIN_LOCK_DEPTH) return reject(ErrorCodes.FORK, 'chain lock prevents reorg');
  const seenPrev = new Set<string>();
  for (let i = 0; i < objs.length; i++) {
    const prev = objs[i].prev_hash as string;
    if (seenPrev.has(prev)) return reject(ErrorCodes.FORK, 'non-contiguous fork');
    seenPrev.add(prev);
    if (i > 0 && prev !== objs[i - 1].event_id) return reject(ErrorCodes.FORK, 'non-contiguous fork');
  }
  if (objs[objs.length - 1].event_id !== headHash) return reject(ErrorCodes.FORK, 'head_hash mismatch');
  const replaced = headHeight - ancestorHeight;
  if (objs.length <= replaced) return reject(ErrorCodes.FORK, 'fork not longer');
  return { ancestorHeight };
}

/**
 * Validate the fork events against the prefix state (mutated: it ends as the state of prefix + fork).
 * Returns the accepted events or the first rejection.
 */
export function validateForkEvents(prefix: ChainState, events: readonly unknown[], ctx: ValidationContext): ChainEvent[] | Rejection {
  const accepted: ChainEvent[] = [];
  for (const raw of events) {
    const v = validateReceivedEvent(prefix, raw, ctx, 'fork');
    if (v.kind === 'rejected') return v.rejection;
    if (v.kind === 'duplicate') return reject(ErrorCodes.FORK, 'duplicate event_id');
    applyEvent(prefix, v.event);
    accepted.push(v.event);
  }
  return accepted;
}
