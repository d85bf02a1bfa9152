// "Would a fresh node ingest this whole chain, every event accepted?" (§2.7, stronger than the
// original's validate_chain). Used by `infonet chain validate` and by store integrity checks.
import { applyEvent, emptyChainState, type ChainState } from './chain-state.js';
import type { Rejection } from './errors.js';
import { validateReceivedEvent, type ValidationContext } from './validate-event.js';

export type ChainVerdict =
  | { valid: true; count: number; head: string; state: ChainState }
  | { valid: false; index: number; rejection: Rejection; state: ChainState };

/**
 * Validates `events[from..]` on top of `state` (a fresh state by default). Passing the state saved from
 * an earlier successful run gives the incremental variant with the same verdict.
 */
export function validateChain(events: readonly unknown[], ctx: ValidationContext, state: ChainState = emptyChainState(), from = 0): ChainVerdict {
  for (let i = from; i < events.length; i++) {
    const v = validateReceivedEvent(state, events[i], ctx, 'ingest');
    if (v.kind === 'duplicate') {
      return { valid: false, index: i, rejection: { code: 'fork', reason: 'duplicate event_id' }, state };
    }
    if (v.kind === 'rejected') return { valid: false, index: i, rejection: v.rejection, state };
    applyEvent(state, v.event);
  }
  return { valid: true, count: state.length, head: state.head, state };
}

