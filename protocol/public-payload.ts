// Public event payloads (§2.8): normalisation (a field projection) and the public-ledger rules.
//
// The spec fixes the fields of `message`, `key_revoke` and `key_rotate`; those schemas are closed.
// It does not list the fields of `vote`, `gate_create`, `prediction`, `stake` and `abuse_report`, so
// their normalisation keeps the fields as given (JSON values, copied) and relies on the public-ledger
// rules below; see README "Known gaps".
import { toStr, toInt } from './coerce.js';
import type { Json } from './canonical-json.js';
import { ErrorCodes, reject, type Rejection } from './errors.js';
import type { Payload } from './event.js';
import { isFixedPoint, type SchemaHints } from './gate-payload.js';
import { isPlainObject, normalizeSignedContext } from './signed-context.js';


/** Keys that would leak routing or identity metadata onto the public ledger (case-insensitive). */
export const PUBLIC_FORBIDDEN_KEYS: ReadonlySet<string> = new Set([
  'ip', 'ip_address', 'origin_ip', 'source_ip', 'client_ip', 'host', 'hostname', 'origin', 'originator',
  'originator_hint', 'routing_hint', 'route', 'route_hint', 'route_reason', 'routed_via', 'transport',
  'transport_handle', 'transport_lock', 'recipient_id', 'recipient_token', 'delivery_class', 'mailbox_claims',
  'dh_pub_key', 'sender_token',
]);

export const KEY_REVOKE_REASON_MAX = 140;

function withSignedContext(out: Payload, p: Record<string, unknown>): Payload {
  if (isPlainObject(p.signed_context)) out.signed_context = normalizeSignedContext(p.signed_context);
  return out;
}

function normalizeMessage(p: Record<string, unknown>): Payload {
  const out: Payload = {};
  for (const k of ['message', 'destination', 'channel', 'priority'] as const) if (k in p) out[k] = toStr(p[k]);
  if ('ephemeral' in p) out.ephemeral = Boolean(p.ephemeral);
  return withSignedContext(out, p);
}

function normalizeKeyRevoke(p: Record<string, unknown>): Payload {
  return withSignedContext({
    revoked_public_key: toStr(p.revoked_public_key),
    revoked_public_key_algo: toStr(p.revoked_public_key_algo),
    revoked_at: toInt(p.revoked_at),
    grace_until: toInt(p.grace_until),
    reason: toStr(p.reason).slice(0, KEY_REVOKE_REASON_MAX),
  }, p);
}

export function normalizeKeyRotate(p: Record<string, unknown>): Payload {
  return withSignedContext({
    old_node_id: toStr(p.old_node_id),
    old_public_key: toStr(p.old_public_key),
    old_public_key_algo: toStr(p.old_public_key_algo),
    new_public_key: toStr(p.new_public_key),
    new_public_key_algo: toStr(p.new_public_key_algo),
    timestamp: toInt(p.timestamp),
    old_signature: toStr(p.old_signature),
  }, p);
}

const copyJson = (p: Record<string, unknown>): Payload => JSON.parse(JSON.stringify(p)) as Payload;

const NORMALIZERS: Record<string, (p: Record<string, unknown>) => Payload> = {
  message: normalizeMessage,
  key_revoke: normalizeKeyRevoke,
  key_rotate: normalizeKeyRotate,
  vote: copyJson,
  gate_create: copyJson,
  prediction: copyJson,
  stake: copyJson,
  abuse_report: copyJson,
};

export function normalizePublicPayload(eventType: string, p: Record<string, unknown>): Payload {
  const n = NORMALIZERS[eventType];
  if (!n) throw new TypeError(`no public normaliser for ${eventType}`);
  return n(p);
}

/** Generic schema (§2.8.5): a fixed point of normalisation; `ephemeral` only on message / gate_message. */
export function validateGenericPublicSchema(eventType: string, p: Record<string, unknown>, hints: SchemaHints = {}): Rejection | null {
  if (!isFixedPoint(p, (x) => normalizePublicPayload(eventType, x), hints)) return reject(ErrorCodes.NOT_NORMALIZED, 'Payload is not normalized');
  if (eventType !== 'message' && 'ephemeral' in p) return reject(ErrorCodes.SCHEMA, `ephemeral is only allowed on message events`);
  return null;
}

/** Public-ledger rules (§2.8.6) plus the type-specific requirements of key_revoke (§1.3.2). */
export function validatePublicLedgerPayload(eventType: string, p: Record<string, unknown>): Rejection | null {
  const forbidden = Object.keys(p).filter((k) => PUBLIC_FORBIDDEN_KEYS.has(k.toLowerCase())).sort();
  if (forbidden.length) return reject(ErrorCodes.SCHEMA, `public ledger payload contains forbidden fields: ${forbidden.join(', ')}`);
  if (eventType === 'message') {
    const dest = toStr(p.destination).trim().toLowerCase();
    if (dest !== '' && dest !== 'broadcast') return reject(ErrorCodes.SCHEMA, 'public message destination must be broadcast');
  }
  if (eventType === 'key_revoke') {
    if (!toStr(p.revoked_public_key) || !toStr(p.revoked_public_key_algo)) return reject(ErrorCodes.SCHEMA, 'key_revoke requires revoked_public_key and revoked_public_key_algo');
    if (!(toInt(p.revoked_at) > 0)) return reject(ErrorCodes.SCHEMA, 'key_revoke revoked_at must be a positive integer');
    if (toInt(p.grace_until) < toInt(p.revoked_at)) return reject(ErrorCodes.SCHEMA, 'key_revoke grace_until must be >= revoked_at');
  }
  return null;
}

export type { Json };
