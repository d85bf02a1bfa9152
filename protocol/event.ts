// The chain event (§2.2) and its wire forms. The wire JSON form is Appendix A.4: sorted keys, compact,
// integral timestamps written with ".0" unless the event was accepted through the legacy bare-integer
// id form (§2.5 rule 3), in which case it is re-served byte-identically as an integer literal.
import { canonicalJson, type Json } from './canonical-json.js';
import { isLiteralOf } from './lossless-json.js';
import { integerText, pythonFloatRepr } from './python-float.js';

export type Payload = { [key: string]: Json };

export interface ChainEvent {
  event_id: string;
  prev_hash: string;
  event_type: string;
  node_id: string;
  payload: Payload;
  timestamp: number;
  sequence: number;
  signature: string;
  network_id: string;
  public_key: string;
  public_key_algo: string;
  protocol_version: string;
  /** Local bookkeeping, never hashed: the event id was computed over the bare-integer timestamp. */
  timestamp_int?: true;
  /**
   * The payload's canonical JSON as received, when it holds number literals JavaScript does not keep
   * (`5.0`, big integers; Appendix D): the id preimage and the wire form use it. Set by
   * parseEventsJson / validation; never a field of its own on the wire.
   */
  payload_literal?: string;
}

export const CONSENSUS_FIELDS = [
  'event_id', 'prev_hash', 'event_type', 'node_id', 'payload', 'timestamp', 'sequence', 'signature',
  'network_id', 'public_key', 'public_key_algo', 'protocol_version',
] as const;

/** The timestamp text used both in the id preimage and in the wire JSON. */
export function timestampText(ev: Pick<ChainEvent, 'timestamp' | 'timestamp_int'>): string {
  return ev.timestamp_int ? integerText(ev.timestamp) : pythonFloatRepr(ev.timestamp);
}

/**
 * The payload text that event_id hashes and the wire form carries: the received literal form when the
 * event has one, it is canonical, and it still describes `payload` (a copy whose payload was changed,
 * e.g. redacted, falls back to the payload itself), else canonical JSON of the payload.
 */
export function payloadJsonOf(ev: Pick<ChainEvent, 'payload' | 'payload_literal'>): string {
  const usual = canonicalJson(ev.payload);
  return typeof ev.payload_literal === 'string' && isLiteralOf(ev.payload_literal, usual) ? ev.payload_literal : usual;
}

// The consensus fields in wire order (all ASCII: code-point order is the default sort) and their `"key":` texts.
const WIRE_FIELDS: readonly string[] = [...CONSENSUS_FIELDS].sort();
const WIRE_KEYS = WIRE_FIELDS.map((k) => JSON.stringify(k) + ':');
const hasOwn = Object.prototype.hasOwnProperty;

/** One event as wire JSON text (sorted keys, compact; decorations like `meta` are dropped). */
export function eventToWireJson(ev: ChainEvent): string {
  let out = '{';
  let first = true;
  // The consensus fields the event has, in sorted order (serving sync pages: no per-event sort of its keys).
  for (let i = 0; i < WIRE_FIELDS.length; i++) {
    const k = WIRE_FIELDS[i];
    if (!hasOwn.call(ev, k)) continue;
    const v = (ev as unknown as Record<string, unknown>)[k];
    if (v === undefined) continue;
    const text = k === 'timestamp' ? timestampText(ev) : k === 'payload' ? payloadJsonOf(ev) : canonicalJson(v);
    out += (first ? '' : ',') + WIRE_KEYS[i] + text;
    first = false;
  }
  return out + '}';
}

/** A chain as a wire JSON array, one event per line for readability. */
export function chainToWireJson(events: readonly ChainEvent[]): string {
  if (events.length === 0) return '[]';
  return '[\n' + events.map(eventToWireJson).join(',\n') + '\n]';
}
