// Normalisation of the optional `signed_context` object carried by private (and public) payloads (§4.2).
import { toStr, toInt } from './coerce.js';
import type { Json } from './canonical-json.js';

const STRING_FIELDS = ['protocol', 'event_type', 'kind', 'endpoint', 'lane_floor', 'sequence_domain', 'node_id', 'body_hash'] as const;
const OPTIONAL_FIELDS = ['gate_id', 'recipient_id', 'target_id'] as const;


export function normalizeSignedContext(input: Record<string, unknown>): { [k: string]: Json } {
  const out: { [k: string]: Json } = {};
  for (const f of STRING_FIELDS) out[f] = toStr(input[f]);
  out.version = toInt(input.version);
  out.sequence = toInt(input.sequence);
  for (const f of OPTIONAL_FIELDS) {
    const v = toStr(input[f]).trim();
    if (v) out[f] = v;
  }
  return out;
}

export const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
