// The validation reducer: (chainState, event) → accepted event | rejection. Pure: it reads the state
// and never mutates it; the caller applies an accepted event with applyEvent (chain-state.ts).
// One pipeline serves ingest (§9.2), fork application (§9.3, with the fork's reason strings) and
// whole-chain validation, so every path applies the same schema and caps ([tightening] §5.5.5, §6.4).
import { canonicalJson, utf8Length } from './canonical-json.js';
import type { ChainState } from './chain-state.js';
import type { Clock } from './clock.js';
import { MAX_PAYLOAD_BYTES, NETWORK_ID, PROTOCOL_VERSION, isIngestEventType, isPublicEventType } from './constants.js';
import { checkSpoolCaps } from './dm-spool-caps.js';
import { validateDmLedgerPayload } from './dm-payload.js';
import { ErrorCodes, reject, type ErrorCode, type Rejection } from './errors.js';
import { payloadJsonOf, type ChainEvent, type Payload } from './event.js';
import { matchEventId } from './event-id.js';
import { gateSignatureVariants, validateGateLedgerPayload, type SchemaHints } from './gate-payload.js';
import { parseKeyAlgo, verifyNodeBinding } from './identity.js';
import { isRevoked } from './key-revocation.js';
import { normalizePublicPayload, validatePublicLedgerPayload, validatePublicSchema } from './public-payload.js';
import { domainOfEventType, isPositiveInt, lastSequence } from './sequence-domains.js';
import type { ChainSettings } from './settings.js';
import { isPlainObject } from './signed-context.js';
import { signaturePayload } from './signature-payload.js';
import { verifySignature } from './signatures.js';

export interface ValidationContext {
  settings: ChainSettings;
  clock: Clock;
  /** Ingest freshness bound in seconds; 0 = off. Defaults to settings.ingestMaxAgeS. */
  maxAgeS?: number;
  /** Signature verdicts computed ahead of time (in parallel) for received event objects. */
  signatureVerdicts?: WeakMap<object, boolean>;
}

export type Verdict =
  | { kind: 'accepted'; event: ChainEvent }
  | { kind: 'duplicate' }
  | { kind: 'rejected'; rejection: Rejection };

export const TIMESTAMP_MAX = 1e15;

/**
 * What the author signed for a stored payload: public types sign their normalised form (Appendix D: a
 * stored `true` or `5.0` is signed as `1` / `5`); gate and DM payloads are stored normalised already.
 */
export function signedPayloadOf(eventType: string, payload: Payload): Payload {
  if (!isPublicEventType(eventType)) return payload;
  try {
    return normalizePublicPayload(eventType, payload);
  } catch {
    return payload;
  }
}

/** Signature check for a stored event: gate events accept the §4.4 variants, others their signed payload. */
export function verifyEventSignature(
  ev: Pick<ChainEvent, 'event_type' | 'node_id' | 'sequence' | 'payload' | 'signature' | 'public_key' | 'public_key_algo'>,
  signed: Payload = signedPayloadOf(ev.event_type, ev.payload),
): boolean {
  const payloads: Payload[] = ev.event_type === 'gate_message' ? gateSignatureVariants(ev.payload) : [signed];
  for (const p of payloads) {
    if (verifySignature(ev.public_key_algo, ev.public_key, ev.signature, signaturePayload(ev.event_type, ev.node_id, ev.sequence, p))) return true;
  }
  return false;
}

/**
 * Schema of a stored payload by event type (gate §4.3, DM §5.3, public Appendix D + §2.8.6), on the raw
 * payload. `normalizedPublic` passes a public payload's normalisation when the caller already has it.
 */
export function validateStoredPayload(eventType: string, p: Record<string, unknown>, hints: SchemaHints = {}, normalizedPublic?: Payload): Rejection | null {
  if (eventType === 'gate_message') return validateGateLedgerPayload(p, hints);
  if (eventType === 'dm_message') return validateDmLedgerPayload(p, hints);
  return validatePublicSchema(eventType, p, hints.normalized ? (p as Payload) : normalizedPublic) ?? validatePublicLedgerPayload(eventType, p);
}

export function revokeSelfMatch(ev: ChainEvent, dialect: 'ingest' | 'append'): Rejection | null {
  if (ev.event_type !== 'key_revoke') return null;
  const suffix = dialect === 'append' ? 'event public_key' : 'public_key';
  if (String(ev.payload.revoked_public_key) !== ev.public_key) return reject(ErrorCodes.REVOKE_MISMATCH, `revoked_public_key must match ${suffix}`);
  if (String(ev.payload.revoked_public_key_algo) !== ev.public_key_algo) return reject(ErrorCodes.REVOKE_MISMATCH, `revoked_public_key_algo must match ${suffix}_algo`);
  return null;
}

const FORK_REASONS: Partial<Record<ErrorCode, string>> = {
  [ErrorCodes.UNSUPPORTED_EVENT_TYPE]: 'unsupported event_type',
  [ErrorCodes.MISSING_FIELDS]: 'missing fields',
  [ErrorCodes.NETWORK_MISMATCH]: 'network mismatch',
  [ErrorCodes.INVALID_SEQUENCE]: 'sequence replay',
  [ErrorCodes.REPLAY]: 'sequence replay',
  [ErrorCodes.PROTOCOL_VERSION]: 'unsupported protocol_version',
  [ErrorCodes.MISSING_SIGNATURE_FIELDS]: 'missing signature fields',
  [ErrorCodes.UNSUPPORTED_ALGO]: 'unsupported public_key_algo',
  [ErrorCodes.KEY_REVOKED]: 'public key revoked',
  [ErrorCodes.NODE_ID_MISMATCH]: 'node_id mismatch',
  [ErrorCodes.KEY_BINDING]: 'public key binding conflict',
  [ErrorCodes.INVALID_SIGNATURE]: 'invalid signature',
  [ErrorCodes.EVENT_ID_MISMATCH]: 'event_id mismatch',
};

/** Reason strings of the fork path (§9.3, Appendix C "Fork") for the same checks as ingest. */
export function toForkRejection(r: Rejection): Rejection {
  const text = FORK_REASONS[r.code];
  return text ? { code: r.code, reason: text } : r;
}

const str = (v: unknown): v is string => typeof v === 'string';

/**
 * Ingest pipeline (§9.2) for one received event, checks in the spec's order. `freshness` is off on the
 * fork path (§3.4); `dialect` only changes reason strings.
 */
export function validateReceivedEvent(state: ChainState, raw: unknown, ctx: ValidationContext, path: 'ingest' | 'fork' = 'ingest'): Verdict {
  const r = (code: ErrorCode, reason: string): Verdict => ({ kind: 'rejected', rejection: path === 'fork' ? toForkRejection(reject(code, reason)) : reject(code, reason) });
  if (!isPlainObject(raw)) return r(ErrorCodes.NOT_AN_OBJECT, 'Event is not an object');
  const e = raw as Record<string, unknown>;
  if (!isIngestEventType(e.event_type)) return r(ErrorCodes.UNSUPPORTED_EVENT_TYPE, 'Unsupported event_type');
  if (!str(e.event_id) || !e.event_id || !str(e.prev_hash) || !e.prev_hash) return r(ErrorCodes.MISSING_FIELDS, 'Missing event_id or prev_hash');
  if (state.eventIndex.has(e.event_id)) {
    return path === 'fork' ? r(ErrorCodes.FORK, 'duplicate event_id') : { kind: 'duplicate' };
  }
  if (e.prev_hash !== state.head) return r(ErrorCodes.PREV_HASH_MISMATCH, 'prev_hash does not match head');
  if (e.network_id !== NETWORK_ID) return r(ErrorCodes.NETWORK_MISMATCH, 'network_id mismatch');
  if (!str(e.node_id) || !isPlainObject(e.payload) || typeof e.timestamp !== 'number') {
    return r(ErrorCodes.MISSING_FIELDS, 'missing fields');
  }
  // [tightening] §2.5: timestamps must be finite and inside [0, 1e15).
  if (!Number.isFinite(e.timestamp) || e.timestamp < 0 || e.timestamp >= TIMESTAMP_MAX) {
    return r(ErrorCodes.INVALID_TIMESTAMP, 'Invalid timestamp');
  }
  if (!isPositiveInt(e.sequence)) return r(ErrorCodes.INVALID_SEQUENCE, 'Invalid sequence');
  const domain = domainOfEventType(e.event_type);
  const last = lastSequence(state, e.node_id, domain);
  if (e.sequence <= last) return r(ErrorCodes.REPLAY, 'Replay detected');
  const now = ctx.clock();
  const maxAge = path === 'fork' ? 0 : ctx.maxAgeS ?? ctx.settings.ingestMaxAgeS;
  const t = Math.trunc(e.timestamp);
  if (maxAge > 0 && t > 0 && Math.abs(Math.floor(now) - t) > maxAge) {
    return r(ErrorCodes.STALE_TIMESTAMP, 'Event timestamp outside freshness window');
  }
  const payload = e.payload as Payload;
  let usualJson: string;
  let signed: Payload = payload;
  try {
    usualJson = canonicalJson(payload);
    signed = signedPayloadOf(e.event_type, payload);
  } catch {
    return r(ErrorCodes.NOT_NORMALIZED, 'Payload is not normalized');
  }
  // Appendix D: the id hashes the payload as received; a received literal form (5.0) travels beside it.
  const literal = typeof e.payload_literal === 'string' ? payloadJsonOf({ payload, payload_literal: e.payload_literal }) : usualJson;
  const payloadJson = literal;
  const schema = validateStoredPayload(e.event_type, payload, { json: usualJson }, signed);
  if (schema) return { kind: 'rejected', rejection: path === 'fork' ? toForkRejection(schema) : schema };
  if (e.event_type === 'dm_message') {
    const caps = checkSpoolCaps(state.spool, payload, e.node_id, now, ctx.settings.spool);
    if (caps) return { kind: 'rejected', rejection: caps };
  }
  if (e.event_type === 'message' && !('ephemeral' in payload)) return r(ErrorCodes.SCHEMA, 'Missing ephemeral flag');
  if (utf8Length(payloadJson) > MAX_PAYLOAD_BYTES) return r(ErrorCodes.PAYLOAD_TOO_LARGE, 'Payload too large');
  const protocolVersion = e.protocol_version === undefined || e.protocol_version === null ? PROTOCOL_VERSION : e.protocol_version;
  if (protocolVersion !== PROTOCOL_VERSION) return r(ErrorCodes.PROTOCOL_VERSION, 'Unsupported protocol_version');
  if (!str(e.signature) || !e.signature || !str(e.public_key) || !e.public_key || !str(e.public_key_algo) || !e.public_key_algo) {
    return r(ErrorCodes.MISSING_SIGNATURE_FIELDS, 'Missing signature fields');
  }
  if (!parseKeyAlgo(e.public_key_algo)) return r(ErrorCodes.UNSUPPORTED_ALGO, 'Unsupported public_key_algo');
  const ev: ChainEvent = {
    event_id: e.event_id,
    prev_hash: e.prev_hash,
    event_type: e.event_type,
    node_id: e.node_id,
    payload,
    timestamp: e.timestamp,
    sequence: e.sequence,
    signature: e.signature,
    network_id: NETWORK_ID,
    public_key: e.public_key,
    public_key_algo: e.public_key_algo,
    protocol_version: PROTOCOL_VERSION,
  };
  const selfMatch = revokeSelfMatch(ev, 'ingest');
  if (selfMatch) return { kind: 'rejected', rejection: selfMatch };
  if (ev.event_type !== 'key_revoke' && isRevoked(state.revocations, ev.public_key, now)) {
    return r(ErrorCodes.KEY_REVOKED, 'public key is revoked');
  }
  if (!verifyNodeBinding(ev.node_id, ev.public_key, ctx.settings.allowLegacyNodeId)) return r(ErrorCodes.NODE_ID_MISMATCH, 'node_id mismatch');
  const bound = state.keyBindings.get(ev.public_key);
  if (bound !== undefined && bound !== ev.node_id) return r(ErrorCodes.KEY_BINDING, `public key already bound to ${bound}`);
  const verdict = ctx.signatureVerdicts?.get(raw);
  if (!(verdict ?? verifyEventSignature(ev, signed))) return r(ErrorCodes.INVALID_SIGNATURE, 'Invalid signature');
  const form = matchEventId(ev, payloadJson);
  if (!form) return r(ErrorCodes.EVENT_ID_MISMATCH, 'event_id mismatch');
  if (form === 'int') ev.timestamp_int = true;
  if (payloadJson !== usualJson) ev.payload_literal = payloadJson;
  return { kind: 'accepted', event: ev };
}
