// The chain event (§2.2) and its wire forms. The wire JSON form is Appendix A.4: sorted keys, compact,
// integral timestamps written with ".0" unless the event was accepted through the legacy bare-integer
// id form (§2.5 rule 3), in which case it is re-served byte-identically as an integer literal.
import { canonicalJson, sortedKeys, type Json } from './canonical-json.js';
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
}

export const CONSENSUS_FIELDS = [
  'event_id', 'prev_hash', 'event_type', 'node_id', 'payload', 'timestamp', 'sequence', 'signature',
  'network_id', 'public_key', 'public_key_algo', 'protocol_version',
] as const;

/** The timestamp text used both in the id preimage and in the wire JSON. */
export function timestampText(ev: Pick<ChainEvent, 'timestamp' | 'timestamp_int'>): string {
  return ev.timestamp_int ? integerText(ev.timestamp) : pythonFloatRepr(ev.timestamp);
}

/** One event as wire JSON text (sorted keys, compact; decorations like `meta` are dropped). */
export function eventToWireJson(ev: ChainEvent): string {
  let out = '{';
  let first = true;
  for (const k of sortedKeys(ev)) {
    if (!(CONSENSUS_FIELDS as readonly string[]).includes(k)) continue;
    const v = (ev as unknown as Record<string, unknown>)[k];
    if (v === undefined) continue;
    out += (first ? '' : ',') + JSON.stringify(k) + ':' + (k === 'timestamp' ? timestampText(ev) : canonicalJson(v));
    first = false;
  }
  return out + '}';
}

/** A chain as a wire JSON array, one event per line for readability. */
export function chainToWireJson(events: readonly ChainEvent[]): string {
  if (events.length === 0) return '[]';
  return '[\n' + events.map(eventToWireJson).join(',\n') + '\n]';
}
