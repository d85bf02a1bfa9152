// Local append paths: the generic public path (§2.8), private gate posts (§4.5) and chain DMs (§5.6),
// each with its checks in the spec's order. Nothing here writes; the chain actor persists an accepted
// event and then applies it to the state.
import { canonicalJson, utf8Length } from './canonical-json.js';
import type { ChainState } from './chain-state.js';
import { MAX_PAYLOAD_BYTES, NETWORK_ID, PROTOCOL_VERSION, isPublicEventType, isIngestEventType, isPrivateEventType } from './constants.js';
import { checkSpoolCaps, checkSpoolTimestampWindow } from './dm-spool-caps.js';
import { normalizeDmPayload, validateDmLedgerPayload } from './dm-payload.js';
import { ErrorCodes, reject, type ErrorCode } from './errors.js';
import type { ChainEvent, Payload } from './event.js';
import { eventIdWithTimestampText } from './event-id.js';
import { pythonFloatRepr } from './python-float.js';
import { normalizeGatePayload, validateGateLedgerPayload } from './gate-payload.js';
import { parseKeyAlgo, verifyNodeBinding } from './identity.js';
import { isRevoked } from './key-revocation.js';
import { hasPlaintextBait } from './plaintext-bait.js';
import { normalizePublicPayload, validatePublicLedgerPayload, validatePublicSchema } from './public-payload.js';
import { domainOfEventType, isPositiveInt, lastSequence } from './sequence-domains.js';
import { isPlainObject } from './signed-context.js';
import { DM_LOCK, GATE_APPEND_LOCK, normalizeLock } from './transport-lock.js';
import { TIMESTAMP_MAX, revokeSelfMatch, verifyEventSignature, type ValidationContext, type Verdict } from './validate-event.js';

export interface AppendInput {
  event_type: string;
  node_id: string;
  payload: unknown;
  signature: string;
  sequence: unknown;
  public_key: string;
  public_key_algo: string;
  protocol_version?: string;
  /** Supplied timestamp (seconds, float); default now. */
  timestamp?: number;
}

export interface AppendOptions {
  /**
   * The signature was just produced in-process with the author's own key (local signing): skip the
   * redundant verification. Externally signed input must never set this.
   */
  trustedSignature?: boolean;
  /**
   * Which append route the caller used: `public` (§2.8, refuses the private types, §2.3), `gate` (§4.5,
   * only gate_message) or `dm` (§5.6, only dm_message). Omitted = routed by type (local signing only).
   */
  route?: AppendRoute;
  /**
   * The payload already normalised by prepareLocalPayload (protocol/local-sign.ts) for this very input
   * (same event_type and payload object): the checks still run, but the payload is not normalised or
   * canonicalised a second time. Local signing only, like trustedSignature.
   */
  prepared?: PreparedPayload;
}

/** A local append's payload normalised once: the stored form, its canonical JSON, and the JSON the author signs. */
export interface PreparedPayload {
  /** The caller's payload object it was made from. */
  readonly source: object;
  readonly eventType: string;
  readonly payload: Payload;
  readonly json: string;
  readonly signedJson: string;
}

export type AppendRoute = 'public' | 'gate' | 'dm';

/** Does `route` admit `type`? Each route takes only its own types; unrouted local appends take all ten. */
function routeAdmits(route: AppendRoute | undefined, type: string): boolean {
  if (route === 'gate') return type === 'gate_message';
  if (route === 'dm') return type === 'dm_message';
  if (route === 'public') return isPublicEventType(type);
  return isPublicEventType(type) || isPrivateEventType(type);
}

const fail = (code: ErrorCode, reason: string): Verdict => ({ kind: 'rejected', rejection: reject(code, reason) });

/** The payload a local author must sign for a given type (what the append path will verify). */
export function payloadToSign(eventType: string, rawPayload: Record<string, unknown>): Payload {
  if (!isPlainObject(rawPayload)) return {};
  if (!isIngestEventType(eventType)) return { ...rawPayload } as Payload;
  return signedPartOf(eventType, normalizeLedgerPayload(eventType, rawPayload));
}

/** The stored (normalised) payload of an append of one of the ten routable types (may throw on junk). */
export function normalizeLedgerPayload(eventType: string, raw: Record<string, unknown>): Payload {
  if (eventType === 'gate_message') return normalizeGatePayload(raw);
  if (eventType === 'dm_message') return normalizeDmPayload(raw);
  return normalizePublicPayload(eventType, raw);
}

/** What the author signs of a normalised payload: all of it, except a gate post's envelope and signed context (§4.4). */
export function signedPartOf(eventType: string, normalized: Payload): Payload {
  if (eventType !== 'gate_message' || (!('gate_envelope' in normalized) && !('signed_context' in normalized))) return normalized;
  const { gate_envelope: _e, signed_context: _s, ...rest } = normalized;
  return rest as Payload;
}

function normalizedOrReject(input: AppendInput, state: ChainState, ctx: ValidationContext, prepared?: Payload): { payload: Payload } | Verdict {
  const raw = input.payload as Record<string, unknown>;
  const type = input.event_type;
  if (type === 'gate_message') {
    // §6: plaintext bait is checked on the raw input, before normalisation could drop it.
    if (hasPlaintextBait(raw)) return fail(ErrorCodes.PLAINTEXT, 'private gate ledger payload must not contain plaintext');
    if (normalizeLock(raw.transport_lock) !== GATE_APPEND_LOCK) return fail(ErrorCodes.TRANSPORT_LOCK, 'gate messages require private_strong transport_lock');
    const payload = prepared ?? normalizeGatePayload(raw);
    const bad = validateGateLedgerPayload(payload, { normalized: true });
    return bad ? { kind: 'rejected', rejection: bad } : { payload };
  }
  if (type === 'dm_message') {
    if (hasPlaintextBait(raw)) return fail(ErrorCodes.PLAINTEXT, 'private DM ledger payload must not contain plaintext');
    if (normalizeLock(raw.transport_lock) !== DM_LOCK) return fail(ErrorCodes.TRANSPORT_LOCK, 'DM hashchain spool requires private_strong transport_lock');
    const payload = prepared ?? normalizeDmPayload(raw);
    const now = ctx.clock();
    const bad = validateDmLedgerPayload(payload, { normalized: true })
      ?? checkSpoolTimestampWindow(payload, now, ctx.settings.spool)
      ?? checkSpoolCaps(state.spool, payload, input.node_id, now, ctx.settings.spool);
    return bad ? { kind: 'rejected', rejection: bad } : { payload };
  }
  // §2.8 steps 4–7: normalise (Appendix D; `ephemeral` is defaulted on message and dropped elsewhere
  // by the normaliser itself), then the schema and the public-ledger rules on the normalised form.
  const normalized = prepared ?? normalizePublicPayload(type, raw);
  const bad = validatePublicSchema(type, normalized, normalized) ?? validatePublicLedgerPayload(type, normalized);
  return bad ? { kind: 'rejected', rejection: bad } : { payload: normalized };
}

/** Decide a local append. On acceptance the returned event is complete (linked, timestamped, hashed). */
export function validateLocalAppend(state: ChainState, input: AppendInput, ctx: ValidationContext, opts: AppendOptions = {}): Verdict {
  const type = input.event_type;
  if (!routeAdmits(opts.route, type)) return fail(ErrorCodes.UNSUPPORTED_EVENT_TYPE, `Unsupported event_type: ${type}`);
  if (!isPositiveInt(input.sequence)) return fail(ErrorCodes.INVALID_SEQUENCE, 'sequence is required and must be > 0');
  if (typeof input.node_id !== 'string' || !input.node_id) return fail(ErrorCodes.MISSING_FIELDS, 'node_id is required');
  const last = lastSequence(state, input.node_id, domainOfEventType(type));
  if (input.sequence <= last) return fail(ErrorCodes.REPLAY, `Replay detected: sequence ${input.sequence} <= last ${last}`);
  if (!isPlainObject(input.payload)) return fail(ErrorCodes.SCHEMA, 'payload must be an object');
  const pre = opts.prepared && opts.prepared.source === input.payload && opts.prepared.eventType === type ? opts.prepared : undefined;
  const normalized = normalizedOrReject(input, state, ctx, pre?.payload);
  if ('kind' in normalized) return normalized;
  const payload = normalized.payload;
  const payloadJson = pre ? pre.json : canonicalJson(payload);
  if (utf8Length(payloadJson) > MAX_PAYLOAD_BYTES) return fail(ErrorCodes.PAYLOAD_TOO_LARGE, 'payload exceeds max size');
  const protocolVersion = input.protocol_version ?? PROTOCOL_VERSION;
  if (protocolVersion !== PROTOCOL_VERSION) return fail(ErrorCodes.PROTOCOL_VERSION, 'Unsupported protocol_version');
  if (!input.signature || !input.public_key || !input.public_key_algo) return fail(ErrorCodes.MISSING_SIGNATURE_FIELDS, 'Missing signature fields');
  if (!parseKeyAlgo(input.public_key_algo)) return fail(ErrorCodes.UNSUPPORTED_ALGO, 'Unsupported public_key_algo');
  if (!verifyNodeBinding(input.node_id, input.public_key, ctx.settings.allowLegacyNodeId)) return fail(ErrorCodes.NODE_ID_MISMATCH, 'node_id mismatch');
  const bound = state.keyBindings.get(input.public_key);
  if (bound !== undefined && bound !== input.node_id) return fail(ErrorCodes.KEY_BINDING, `public key already bound to ${bound}`);
  const now = ctx.clock();
  const timestamp = input.timestamp ?? now;
  if (typeof timestamp !== 'number' || !Number.isFinite(timestamp) || timestamp < 0 || timestamp >= TIMESTAMP_MAX) {
    return fail(ErrorCodes.INVALID_TIMESTAMP, 'Invalid timestamp');
  }
  // Built once, in the stored field order (event_id first), and its id filled in: no partial object and spread copy per append.
  const event: ChainEvent = {
    event_id: '',
    prev_hash: state.head,
    event_type: type,
    node_id: input.node_id,
    payload,
    timestamp,
    sequence: input.sequence,
    signature: input.signature,
    network_id: NETWORK_ID,
    public_key: input.public_key,
    public_key_algo: input.public_key_algo,
    protocol_version: PROTOCOL_VERSION,
  };
  event.event_id = eventIdWithTimestampText(event, pythonFloatRepr(timestamp), payloadJson);
  if (!opts.trustedSignature && !verifyEventSignature(event, payload)) return fail(ErrorCodes.INVALID_SIGNATURE, 'Invalid signature');
  if (type !== 'key_revoke' && isRevoked(state.revocations, input.public_key, now)) return fail(ErrorCodes.KEY_REVOKED, 'public key is revoked');
  const selfMatch = revokeSelfMatch(event, 'append');
  if (selfMatch) return { kind: 'rejected', rejection: selfMatch };
  return { kind: 'accepted', event };
}
