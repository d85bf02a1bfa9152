// Private DM spool messages (§5): normalisation and ledger schema.
import { toStr, toInt } from './coerce.js';
import { ErrorCodes, reject, type Rejection } from './errors.js';
import type { Payload } from './event.js';
import { isFixedPoint, type SchemaHints } from './gate-payload.js';
import { checkSealedBytes } from './sealed-bytes.js';
import { isPlainObject, normalizeSignedContext } from './signed-context.js';
import { DM_LOCK } from './transport-lock.js';

const DM_ALLOWED = new Set([
  'recipient_id', 'delivery_class', 'recipient_token', 'ciphertext', 'msg_id', 'timestamp', 'format',
  'session_welcome', 'sender_seal', 'relay_salt', 'transport_lock', 'signed_context',
]);
const DM_REQUIRED = ['recipient_id', 'delivery_class', 'recipient_token', 'ciphertext', 'msg_id', 'timestamp'];
const DM_PLAINTEXT = ['message', 'plaintext', '_local_plaintext', '_local_reply_to'];
export const DM_DELIVERY_CLASSES: ReadonlySet<string> = new Set(['request', 'shared']);
const DM_FORMATS = new Set(['mls1', 'dm1']);


/** §5.2 — everything not listed is dropped (e.g. the sender UI's connect_intent). */
export function normalizeDmPayload(p: Record<string, unknown>): Payload {
  const out: Payload = {
    recipient_id: toStr(p.recipient_id),
    delivery_class: toStr(p.delivery_class).toLowerCase(),
    recipient_token: toStr(p.recipient_token),
    ciphertext: toStr(p.ciphertext),
    msg_id: toStr(p.msg_id),
    timestamp: toInt(p.timestamp),
    format: toStr(p.format).trim().toLowerCase() || 'dm1',
  };
  if (p.session_welcome) out.session_welcome = toStr(p.session_welcome);
  if (toStr(p.sender_seal)) out.sender_seal = toStr(p.sender_seal);
  const salt = toStr(p.relay_salt).trim().toLowerCase();
  if (salt) out.relay_salt = salt;
  const lock = toStr(p.transport_lock).trim().toLowerCase();
  if (lock) out.transport_lock = lock;
  if (isPlainObject(p.signed_context)) out.signed_context = normalizeSignedContext(p.signed_context);
  return out;
}

/** §5.3 ledger schema; transport_lock must be private_strong on every path. */
export function validateDmLedgerPayload(p: Record<string, unknown>, hints: SchemaHints = {}): Rejection | null {
  if (!isFixedPoint(p, normalizeDmPayload, hints)) return reject(ErrorCodes.NOT_NORMALIZED, 'Payload is not normalized');
  for (const k of DM_REQUIRED) if (!(k in p)) return reject(ErrorCodes.SCHEMA, `Missing field: ${k}`);
  if (!DM_DELIVERY_CLASSES.has(toStr(p.delivery_class))) return reject(ErrorCodes.SCHEMA, 'Invalid delivery_class');
  if (p.delivery_class === 'shared' && !toStr(p.recipient_token).trim()) {
    return reject(ErrorCodes.SCHEMA, 'recipient_token required for shared delivery');
  }
  if (!DM_FORMATS.has(toStr(p.format))) return reject(ErrorCodes.SCHEMA, `Unknown DM format: ${toStr(p.format)}`);
  const extra = Object.keys(p).filter((k) => !DM_ALLOWED.has(k)).sort();
  if (extra.length) return reject(ErrorCodes.SCHEMA, `private DM ledger payload contains unsupported fields: ${extra.join(', ')}`);
  if (DM_PLAINTEXT.some((k) => k in p)) return reject(ErrorCodes.PLAINTEXT, 'private DM ledger payload must not contain plaintext');
  if (p.transport_lock !== DM_LOCK) return reject(ErrorCodes.TRANSPORT_LOCK, 'DM hashchain spool requires private_strong transport_lock');
  if (!toStr(p.ciphertext).trim()) return reject(ErrorCodes.SCHEMA, 'ciphertext cannot be empty');
  return checkSealedBytes(p.ciphertext, 'ciphertext');
}
