// Private gate messages (§4): normalisation, ledger schema, signature-payload variants.
import { toStr, toInt } from './coerce.js';
import { createHash } from 'node:crypto';
import { canonicalJson, type Json } from './canonical-json.js';
import { ErrorCodes, reject, type Rejection } from './errors.js';
import { checkSealedBytes } from './sealed-bytes.js';
import { isPlainObject, normalizeSignedContext } from './signed-context.js';
import { GATE_HISTORY_LOCKS } from './transport-lock.js';
import type { Payload } from './event.js';

const GATE_ALLOWED = new Set([
  'gate', 'ciphertext', 'nonce', 'sender_ref', 'format', 'epoch', 'gate_envelope', 'envelope_hash', 'reply_to',
  'transport_lock', 'signed_context',
]);
const GATE_PLAINTEXT = ['message', 'plaintext', '_local_plaintext', '_local_reply_to'];


/** §4.2 — everything not listed is dropped. */
export function normalizeGatePayload(p: Record<string, unknown>): Payload {
  const out: Payload = {
    gate: toStr(p.gate).trim().toLowerCase(),
    ciphertext: toStr(p.ciphertext),
    nonce: toStr(p.nonce !== undefined && p.nonce !== null && p.nonce !== '' ? p.nonce : p.iv ?? ''),
    sender_ref: toStr(p.sender_ref),
    format: toStr(p.format).trim().toLowerCase() || 'mls1',
  };
  const epoch = toInt(p.epoch);
  if (epoch > 0) out.epoch = epoch;
  for (const k of ['gate_envelope', 'envelope_hash', 'reply_to'] as const) {
    const v = toStr(p[k]).trim();
    if (v) out[k] = v;
  }
  const lock = toStr(p.transport_lock).trim().toLowerCase();
  if (lock) out.transport_lock = lock;
  if (isPlainObject(p.signed_context)) out.signed_context = normalizeSignedContext(p.signed_context);
  return out;
}

/**
 * How a schema check may reuse work: `json` is the payload's canonical JSON when the caller already has
 * it; `normalized` says the payload was just produced by the normaliser (local append), which makes the
 * fixed-point test true by construction.
 */
export interface SchemaHints {
  json?: string;
  normalized?: boolean;
}

export function isFixedPoint(p: Record<string, unknown>, normalize: (p: Record<string, unknown>) => Payload, hints: SchemaHints = {}): boolean {
  if (hints.normalized) return true;
  try {
    return canonicalJson(normalize(p)) === (hints.json ?? canonicalJson(p));
  } catch {
    return false;
  }
}

/** §4.3 ledger schema, applied to the payload as stored (append after normalising; ingest/fork/validate raw). */
export function validateGateLedgerPayload(p: Record<string, unknown>, hints: SchemaHints = {}): Rejection | null {
  if (!isFixedPoint(p, normalizeGatePayload, hints)) return reject(ErrorCodes.NOT_NORMALIZED, 'Payload is not normalized');
  for (const k of ['gate', 'ciphertext', 'nonce', 'sender_ref']) {
    if (!(k in p)) return reject(ErrorCodes.SCHEMA, `Missing field: ${k}`);
  }
  if ('message' in p) return reject(ErrorCodes.PLAINTEXT, 'plaintext gate message field is not allowed');
  if (!toStr(p.gate).trim()) return reject(ErrorCodes.SCHEMA, 'gate cannot be empty');
  if ('epoch' in p && !(toInt(p.epoch) > 0)) return reject(ErrorCodes.SCHEMA, 'epoch must be a positive integer');
  for (const k of ['ciphertext', 'nonce', 'sender_ref']) {
    if (!toStr(p[k]).trim()) return reject(ErrorCodes.SCHEMA, `${k} cannot be empty`);
  }
  if (p.format !== 'mls1') return reject(ErrorCodes.SCHEMA, 'Unsupported gate message format');
  const extra = Object.keys(p).filter((k) => !GATE_ALLOWED.has(k.trim().toLowerCase())).sort();
  if (extra.length) return reject(ErrorCodes.SCHEMA, `private gate ledger payload contains unsupported fields: ${extra.join(', ')}`);
  if (GATE_PLAINTEXT.some((k) => k in p)) return reject(ErrorCodes.PLAINTEXT, 'private gate ledger payload must not contain plaintext');
  if ('transport_lock' in p && !GATE_HISTORY_LOCKS.has(toStr(p.transport_lock))) {
    return reject(ErrorCodes.TRANSPORT_LOCK, 'gate messages require private transport_lock');
  }
  const sealed = checkSealedBytes(p.ciphertext, 'ciphertext') ?? checkSealedBytes(p.nonce, 'nonce');
  if (sealed) return sealed;
  // [tightening] the signed envelope_hash must really be the hash of the carried envelope.
  if (typeof p.gate_envelope === 'string' && typeof p.envelope_hash === 'string') {
    const h = createHash('sha256').update(p.gate_envelope, 'ascii').digest('hex');
    if (h !== p.envelope_hash) return reject(ErrorCodes.SCHEMA, 'envelope_hash does not match gate_envelope');
  }
  return null;
}

/**
 * §4.4: the gate signature payload never contains gate_envelope or signed_context; older clients signed
 * without epoch and/or reply_to, so every stored gate event is checked against up to four variants.
 */
export function gateSignatureVariants(p: Payload): Payload[] {
  const base: Payload = {
    gate: toStr(p.gate).trim().toLowerCase(),
    ciphertext: toStr(p.ciphertext),
    nonce: toStr(p.nonce),
    sender_ref: toStr(p.sender_ref),
    format: toStr(p.format).trim().toLowerCase() || 'mls1',
  };
  const envelopeHash = toStr(p.envelope_hash).trim();
  if (envelopeHash) base.envelope_hash = envelopeHash;
  const lock = toStr(p.transport_lock).trim().toLowerCase();
  if (lock) base.transport_lock = lock;
  const epoch = toInt(p.epoch);
  const replyTo = toStr(p.reply_to).trim();
  const make = (withEpoch: boolean, withReply: boolean): Payload => {
    const v: Payload = { ...base };
    if (withEpoch && epoch > 0) v.epoch = epoch;
    if (withReply && replyTo) v.reply_to = replyTo;
    return v;
  };
  const variants = [make(true, true)];
  if (replyTo) variants.push(make(true, false));
  if (epoch > 0) variants.push(make(false, true));
  if (replyTo && epoch > 0) variants.push(make(false, false));
  const seen = new Set<string>();
  return variants.filter((v) => {
    const key = canonicalJson(v as Json);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
