// Every rejection in the node is an InfonetError with a stable machine code and the spec's reason string
// (Appendix C). Callers match on `code`; people read `reason`. Codes never change once published.

export const ErrorCodes = {
  // generic input
  BAD_INPUT: 'bad_input',
  NOT_FOUND: 'not_found',
  INTERNAL: 'internal',
  UNAVAILABLE: 'unavailable',
  // chain / event validation
  UNSUPPORTED_EVENT_TYPE: 'unsupported_event_type',
  NOT_AN_OBJECT: 'not_an_object',
  MISSING_FIELDS: 'missing_fields',
  PREV_HASH_MISMATCH: 'prev_hash_mismatch',
  NETWORK_MISMATCH: 'network_mismatch',
  INVALID_SEQUENCE: 'invalid_sequence',
  REPLAY: 'replay',
  STALE_TIMESTAMP: 'stale_timestamp',
  INVALID_TIMESTAMP: 'invalid_timestamp',
  NOT_NORMALIZED: 'not_normalized',
  SCHEMA: 'schema',
  PLAINTEXT: 'plaintext',
  TRANSPORT_LOCK: 'transport_lock',
  SEALED_BYTES: 'sealed_bytes',
  PAYLOAD_TOO_LARGE: 'payload_too_large',
  PROTOCOL_VERSION: 'protocol_version',
  MISSING_SIGNATURE_FIELDS: 'missing_signature_fields',
  UNSUPPORTED_ALGO: 'unsupported_algo',
  NODE_ID_MISMATCH: 'node_id_mismatch',
  KEY_BINDING: 'key_binding',
  INVALID_SIGNATURE: 'invalid_signature',
  KEY_REVOKED: 'key_revoked',
  REVOKE_MISMATCH: 'revoke_mismatch',
  EVENT_ID_MISMATCH: 'event_id_mismatch',
  SPOOL_FULL: 'spool_full',
  SENDER_SPOOL_FULL: 'sender_spool_full',
  SPOOL_WINDOW: 'spool_window',
  FORK: 'fork',
  STORE_CORRUPT: 'store_corrupt',
  STORE_LOCKED: 'store_locked',
  // relay / mailboxes
  RELAY_BLOCKED: 'relay_blocked',
  RELAY_TOO_LARGE: 'relay_too_large',
  RELAY_MAILBOX_FULL: 'relay_mailbox_full',
  RELAY_SENDER_CAP: 'relay_sender_cap',
  RELAY_BAD_CLASS: 'relay_bad_class',
  RELAY_MISSING_TOKEN: 'relay_missing_token',
  RELAY_BAD_ENVELOPE: 'relay_bad_envelope',
  NONCE: 'nonce',
  // peers / transport
  PEER_AUTH: 'peer_auth',
  BODY_TOO_LARGE: 'body_too_large',
  INVALID_JSON: 'invalid_json',
  RATE_LIMITED: 'rate_limited',
  PEER_HTTP: 'peer_http',
  PRIVATE_TRANSPORT_REQUIRED: 'private_transport_required',
  TIMEOUT: 'timeout',
  // MLS gates and DM sessions (issue 12, §11)
  GATE_STATE_STALE: 'gate_state_stale',
  GATE_LOCKED: 'gate_locked',
  NOT_MEMBER: 'not_member',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** A typed, serialisable rejection: `{code, reason}` plus optional structured details. */
export class InfonetError extends Error {
  readonly code: ErrorCode;
  readonly reason: string;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, reason: string, details?: Record<string, unknown>) {
    super(reason);
    this.name = 'InfonetError';
    this.code = code;
    this.reason = reason;
    if (details) this.details = details;
  }

  toJSON(): { code: ErrorCode; reason: string; details?: Record<string, unknown> } {
    return this.details ? { code: this.code, reason: this.reason, details: this.details } : { code: this.code, reason: this.reason };
  }
}

export const isInfonetError = (e: unknown): e is InfonetError => e instanceof InfonetError;

/** Plain-data rejection as carried by the validation reducer and on the wire. */
export interface Rejection {
  code: ErrorCode;
  reason: string;
}

export const reject = (code: ErrorCode, reason: string): Rejection => ({ code, reason });
