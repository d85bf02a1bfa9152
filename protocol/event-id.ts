// §2.5 event_id = SHA-256(prev:type:node:canonical(payload):ts_text:seq:network); the payload as stored,
// i.e. with its received literal forms (Appendix D), see payloadJsonOf.
import { hash } from 'node:crypto';
import { payloadJsonOf, type ChainEvent } from './event.js';
import { integerText, pythonFloatRepr } from './python-float.js';

type IdFields = Pick<ChainEvent, 'prev_hash' | 'event_type' | 'node_id' | 'payload' | 'timestamp' | 'sequence' | 'network_id'> & { payload_literal?: string };

export function eventIdWithTimestampText(ev: IdFields, tsText: string, payloadJson = payloadJsonOf(ev)): string {
  const pre = `${ev.prev_hash}:${ev.event_type}:${ev.node_id}:${payloadJson}:${tsText}:${ev.sequence}:${ev.network_id}`;
  return hash('sha256', pre, 'hex'); // one-shot (UTF-8 for strings): no Hash object per event
}

/** Id of a locally produced event: timestamps are always floats (rule 1). */
export function computeEventId(ev: IdFields): string {
  return eventIdWithTimestampText(ev, pythonFloatRepr(ev.timestamp));
}

/**
 * Rule 3: verify a received id with the float form first, then (integral timestamps only) the legacy
 * bare-integer form. Returns which form matched, or null.
 */
export function matchEventId(ev: IdFields & { event_id: string }, payloadJson?: string): 'float' | 'int' | null {
  const pj = payloadJson ?? payloadJsonOf(ev);
  if (eventIdWithTimestampText(ev, pythonFloatRepr(ev.timestamp), pj) === ev.event_id) return 'float';
  if (Number.isInteger(ev.timestamp) && eventIdWithTimestampText(ev, integerText(ev.timestamp), pj) === ev.event_id) return 'int';
  return null;
}
