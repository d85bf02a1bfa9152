// Public event payloads: the closed normalisation and schema of Appendix D for the eight public types,
// and the public-ledger rules of §2.8 step 6. They apply on public append, ingest, fork and
// `chain validate` alike. Conversions and equality follow the original's semantics (python-values.ts):
// a received payload is valid when it *equals* its normalisation in the original's sense (true == 1,
// 5 == 5.0), is stored as received, and is signed in its normalised form.
import type { Json } from './canonical-json.js';
import { ErrorCodes, reject, type Rejection } from './errors.js';
import type { Payload } from './event.js';
import { cutCodePoints, isPyBlank, pyBool, pyEquals, pyInt, pyNum, pyStr, pyStrip } from './python-values.js';
import { isPlainObject, normalizeSignedContext } from './signed-context.js';

/** Keys that would leak routing or identity metadata onto the public ledger (case-insensitive). */
export const PUBLIC_FORBIDDEN_KEYS: ReadonlySet<string> = new Set([
  'ip', 'ip_address', 'origin_ip', 'source_ip', 'client_ip', 'host', 'hostname', 'origin', 'originator',
  'originator_hint', 'routing_hint', 'route', 'route_hint', 'route_reason', 'routed_via', 'transport',
  'transport_handle', 'transport_lock', 'recipient_id', 'recipient_token', 'delivery_class', 'mailbox_claims',
  'dh_pub_key', 'sender_token',
]);

export const KEY_REVOKE_REASON_MAX = 140;
export const GATE_DISPLAY_NAME_MAX = 64;
export const ABUSE_REASON_MAX = 280;
export const ABUSE_EVIDENCE_MAX = 256;
export const MESSAGE_PRIORITIES: ReadonlySet<string> = new Set(['normal', 'high', 'emergency', 'low']);

type Raw = Record<string, unknown>;
const has = (p: Raw, k: string): boolean => Object.prototype.hasOwnProperty.call(p, k);
/** str(payload.get(k, default)) */
const str = (p: Raw, k: string, dflt = ''): string => (has(p, k) ? pyStr(p[k]) : dflt);

function withSignedContext(out: Payload, p: Raw): Payload {
  if (isPlainObject(p.signed_context)) out.signed_context = normalizeSignedContext(p.signed_context);
  return out;
}

/** `transport_lock` survives normalisation (trimmed, lower-cased) only when non-empty. */
function withLock(out: Payload, p: Raw): Payload {
  const lock = has(p, 'transport_lock') ? pyStrip(pyStr(p.transport_lock)).toLowerCase() : '';
  if (lock) out.transport_lock = lock;
  return out;
}

interface PublicSchema {
  normalize(p: Raw): Payload;
  required: readonly string[];
  /** The type's own checks, on the payload as stored (already known to equal its normalisation). */
  check?(p: Raw): Rejection | null;
}

const KEY_ROTATE_FIELDS = ['old_node_id', 'old_public_key', 'old_public_key_algo', 'new_public_key', 'new_public_key_algo', 'timestamp', 'old_signature'] as const;

export function normalizeKeyRotate(p: Raw): Payload {
  return withSignedContext(withLock({
    old_node_id: str(p, 'old_node_id'),
    old_public_key: str(p, 'old_public_key'),
    old_public_key_algo: str(p, 'old_public_key_algo'),
    new_public_key: str(p, 'new_public_key'),
    new_public_key_algo: str(p, 'new_public_key_algo'),
    timestamp: pyInt(p.timestamp),
    old_signature: str(p, 'old_signature'),
  }, p), p);
}

const SCHEMAS: Record<string, PublicSchema> = {
  message: {
    normalize: (p) => withSignedContext(withLock({
      message: str(p, 'message'),
      destination: str(p, 'destination'),
      channel: str(p, 'channel', 'LongFast'),
      priority: str(p, 'priority', 'normal'),
      ephemeral: pyBool(p.ephemeral),
    }, p), p),
    required: ['message', 'destination', 'channel', 'priority', 'ephemeral'],
    check: (p) => {
      if (!MESSAGE_PRIORITIES.has(p.priority as string)) return reject(ErrorCodes.SCHEMA, 'Invalid priority');
      if (typeof p.ephemeral !== 'boolean') return reject(ErrorCodes.SCHEMA, 'ephemeral must be boolean');
      return null;
    },
  },
  vote: {
    normalize: (p) => withSignedContext({ target_id: str(p, 'target_id'), vote: pyInt(p.vote), gate: str(p, 'gate') }, p),
    required: ['target_id', 'vote', 'gate'],
    check: (p) => (pyEquals(p.vote, 1) || pyEquals(p.vote, -1) ? null : reject(ErrorCodes.SCHEMA, 'Invalid vote')),
  },
  gate_create: {
    normalize: (p) => withSignedContext({
      gate_id: str(p, 'gate_id').toLowerCase(),
      display_name: cutCodePoints(str(p, 'display_name'), GATE_DISPLAY_NAME_MAX),
      rules: isPlainObject(p.rules) ? (p.rules as { [k: string]: Json }) : {},
    }, p),
    required: ['gate_id', 'display_name', 'rules'],
    check: (p) => (isPlainObject(p.rules) ? null : reject(ErrorCodes.SCHEMA, 'rules must be an object')),
  },
  prediction: {
    normalize: (p) => ({ market_title: str(p, 'market_title'), side: str(p, 'side'), stake_amount: pyNum(p.stake_amount) }),
    required: ['market_title', 'side', 'stake_amount'],
  },
  stake: {
    normalize: (p) => ({
      message_id: str(p, 'message_id'), poster_id: str(p, 'poster_id'), side: str(p, 'side'),
      amount: pyNum(p.amount), duration_days: pyInt(p.duration_days),
    }),
    required: ['message_id', 'poster_id', 'side', 'amount', 'duration_days'],
  },
  abuse_report: {
    normalize: (p) => ({
      target_id: str(p, 'target_id'),
      reason: cutCodePoints(str(p, 'reason'), ABUSE_REASON_MAX),
      gate: str(p, 'gate'),
      evidence: cutCodePoints(str(p, 'evidence'), ABUSE_EVIDENCE_MAX),
    }),
    required: ['target_id', 'reason'],
    check: (p) => (isPyBlank(pyStr(p.reason)) ? reject(ErrorCodes.SCHEMA, 'reason cannot be empty') : null),
  },
  key_rotate: {
    normalize: normalizeKeyRotate,
    required: KEY_ROTATE_FIELDS,
  },
  key_revoke: {
    normalize: (p) => withSignedContext(withLock({
      revoked_public_key: str(p, 'revoked_public_key'),
      revoked_public_key_algo: str(p, 'revoked_public_key_algo'),
      revoked_at: pyInt(p.revoked_at),
      grace_until: pyInt(p.grace_until),
      reason: cutCodePoints(str(p, 'reason'), KEY_REVOKE_REASON_MAX),
    }, p), p),
    required: ['revoked_public_key', 'revoked_public_key_algo', 'revoked_at', 'grace_until', 'reason'],
    check: (p) => {
      const at = pyInt(p.revoked_at);
      if (!(at > 0)) return reject(ErrorCodes.SCHEMA, 'revoked_at must be a positive timestamp');
      if (pyInt(p.grace_until) < at) return reject(ErrorCodes.SCHEMA, 'grace_until must be >= revoked_at');
      return null;
    },
  },
};

export function isKnownPublicType(eventType: string): boolean {
  return has(SCHEMAS, eventType);
}

/** The normalised form of a public payload (Appendix D): only the listed keys, converted. */
export function normalizePublicPayload(eventType: string, p: Raw): Payload {
  const schema = SCHEMAS[eventType];
  if (!schema || !has(SCHEMAS, eventType)) throw new TypeError(`no public normaliser for ${eventType}`);
  return schema.normalize(p);
}

/**
 * Appendix D schema, in its order, on the payload as stored (raw on ingest/fork/validate, the
 * normalised form on append): type known; a fixed point of normalisation under the original's `==`;
 * `ephemeral` only on message; required fields; the type's own checks. `normalized` skips the fixed
 * point test for a payload that was just normalised.
 */
export function validatePublicSchema(eventType: string, p: Raw, normalized?: Payload): Rejection | null {
  const schema = has(SCHEMAS, eventType) ? SCHEMAS[eventType] : undefined;
  if (!schema) return reject(ErrorCodes.UNSUPPORTED_EVENT_TYPE, 'Unknown event_type');
  let n: Payload;
  try {
    n = normalized ?? schema.normalize(p);
  } catch {
    return reject(ErrorCodes.NOT_NORMALIZED, 'Payload is not normalized');
  }
  if (n !== p && !pyEquals(p, n)) return reject(ErrorCodes.NOT_NORMALIZED, 'Payload is not normalized');
  if (eventType !== 'message' && has(p, 'ephemeral')) return reject(ErrorCodes.SCHEMA, 'ephemeral not allowed for this event type');
  for (const k of schema.required) if (!has(p, k)) return reject(ErrorCodes.SCHEMA, `Missing field: ${k}`);
  return schema.check?.(p) ?? null;
}

/** Public-ledger rules (§2.8 step 6): no routing/identity metadata; a public message is a broadcast. */
export function validatePublicLedgerPayload(eventType: string, p: Raw): Rejection | null {
  const forbidden = Object.keys(p).filter((k) => PUBLIC_FORBIDDEN_KEYS.has(k.toLowerCase())).sort();
  if (forbidden.length) return reject(ErrorCodes.SCHEMA, `public ledger payload contains forbidden fields: ${forbidden.join(', ')}`);
  if (eventType === 'message') {
    const dest = pyStrip(pyStr(p.destination)).toLowerCase();
    if (dest !== '' && dest !== 'broadcast') return reject(ErrorCodes.SCHEMA, 'public message destination must be broadcast');
  }
  return null;
}

export type { Json };
