// The DM relay's mailbox rules (spec §7.3–§7.8) as pure functions over one mailbox's state.
// No I/O, no clock: callers pass `now` and settings, get back a new state plus a result, or a typed
// rejection carrying the spec's reason (Appendix C). The mailbox actor applies these; the store
// persists what they return.
import { toStr } from './coerce.js';
import { ErrorCodes, type ErrorCode } from './errors.js';
import type { RelaySettings } from './settings.js';
import type { SenderProof } from './dm-sender-proof.js';
import { randomBytes } from 'node:crypto';

export type DeliveryClass = 'request' | 'shared' | 'self';

/** A message parked in a mailbox (§7.1) plus the relay's own bookkeeping. */
export interface StoredMessage {
  msg_id: string;
  sender_id: string;
  ciphertext: string;
  /** Relay time of deposit (seconds); the message expires `messageTtlS` later. */
  timestamp: number;
  delivery_class: string;
  sender_seal: string;
  relay_salt: string;
  sender_block_ref: string;
  payload_format: string;
  session_welcome: string;
  /**
   * [tightening] Identity the per-sender cap counts, derived by THIS relay from something it verified
   * (docs/mailbox-sender-cap.md): "sig:<node id>" (verified sender proof or signed chain event),
   * "peer:<url>" (unsigned replica from an authenticated peer), "ref:<block ref>" (local caller).
   */
  cap_key: string;
  origin: 'local' | 'chain' | 'replica';
  sender_proof?: SenderProof;
  /** Request mail: the recipient id, so envelopes and acks can name the mailbox network-wide. */
  recipient_id?: string;
}

export interface MailboxState {
  key: string;
  /** Pending messages in arrival order. */
  messages: StoredMessage[];
  /** Claimed msg_id → tombstone expiry (s). A claimed message is never stored again before then. */
  claimed: Record<string, number>;
}

export interface RelayRejection {
  code: ErrorCode;
  reason: string;
  details?: Record<string, unknown>;
}

export type Decision<R> =
  | { ok: true; state: MailboxState; result: R; changed: boolean }
  | { ok: false; rejection: RelayRejection };

export type RelayLimits = Pick<
  RelaySettings,
  'messageTtlS' | 'requestMailboxLimit' | 'sharedMailboxLimit' | 'selfMailboxLimit' | 'pendingPerSenderLimit' | 'maxMsgBytes'
>;

export const emptyMailbox = (key: string): MailboxState => ({ key, messages: [], claimed: {} });

export const isEmptyMailbox = (s: MailboxState): boolean => s.messages.length === 0 && Object.keys(s.claimed).length === 0;

const rej = (code: ErrorCode, reason: string, details?: Record<string, unknown>): { ok: false; rejection: RelayRejection } => ({
  ok: false,
  rejection: details ? { code, reason, details } : { code, reason },
});

/** Mailbox capacity for a class (§7.3); unknown classes get the shared capacity (§7.8.8). */
export function mailboxCapacity(cls: string, limits: RelayLimits): number {
  if (cls === 'request') return limits.requestMailboxLimit;
  if (cls === 'self') return limits.selfMailboxLimit;
  return limits.sharedMailboxLimit;
}

// CSPRNG bytes drawn 4 KiB at a time: one randomBytes call per 680 ids instead of one per id (hot deposit path).
let idPool = Buffer.alloc(0);
let idPoolAt = 0;

/** §7.5.7: `dm_<unix ms>_<12 random hex>`. */
export function generateMsgId(now: number): string {
  if (idPoolAt + 6 > idPool.length) {
    idPool = randomBytes(4096);
    idPoolAt = 0;
  }
  const hex = idPool.toString('hex', idPoolAt, idPoolAt + 6);
  idPoolAt += 6;
  return `dm_${Math.floor(now * 1000)}_${hex}`;
}

// ---------------------------------------------------------------------------------------------- expiry

/** Earliest absolute time (s) at which something in the mailbox expires, or null. */
export function nextDeadline(state: MailboxState, limits: Pick<RelayLimits, 'messageTtlS'>): number | null {
  let d = Infinity;
  for (const m of state.messages) d = Math.min(d, m.timestamp + limits.messageTtlS);
  for (const t of Object.values(state.claimed)) d = Math.min(d, t);
  return d === Infinity ? null : d;
}

/** Drops messages whose relay timestamp is ≥ TTL old and tombstones past their expiry (§7.3). */
export function purgeExpired(
  state: MailboxState,
  now: number,
  limits: Pick<RelayLimits, 'messageTtlS'>,
): { state: MailboxState; expired: StoredMessage[]; changed: boolean } {
  const expired = state.messages.filter((m) => now >= m.timestamp + limits.messageTtlS);
  const staleTombs = Object.keys(state.claimed).filter((id) => now >= state.claimed[id]);
  if (expired.length === 0 && staleTombs.length === 0) return { state, expired, changed: false };
  const claimed = { ...state.claimed };
  for (const id of staleTombs) delete claimed[id];
  return { state: { ...state, messages: state.messages.filter((m) => !expired.includes(m)), claimed }, expired, changed: true };
}

// --------------------------------------------------------------------------------------------- deposit

/** What a caller asks to deposit (§7.5), before the relay has chosen a mailbox. */
export interface DepositRequest {
  sender_id: string;
  raw_sender_id?: string;
  recipient_id?: string;
  ciphertext: string;
  msg_id?: string;
  delivery_class: string;
  recipient_token?: string;
  sender_seal?: string;
  relay_salt?: string;
  sender_token_hash?: string;
  payload_format?: string;
  session_welcome?: string;
  /** [tightening] Optional Ed25519 proof by the sender; when valid the cap counts the sender's key. */
  sender_proof?: SenderProof;
}

export interface DepositResult {
  ok: true;
  msg_id: string;
  duplicate?: true;
}

/** §7.5 steps 1, 2, 4: checks that do not depend on the mailbox content. */
export function checkDepositRequest(req: DepositRequest, limits: RelayLimits, blocked = false): RelayRejection | { cls: 'request' | 'shared' } {
  if (blocked) return { code: ErrorCodes.RELAY_BLOCKED, reason: 'Recipient is not accepting your messages' };
  const ct = typeof req.ciphertext === 'string' ? req.ciphertext : '';
  if (ct.length > limits.maxMsgBytes) {
    return { code: ErrorCodes.RELAY_TOO_LARGE, reason: `Message too large (${ct.length} > ${limits.maxMsgBytes})` };
  }
  const cls = String(req.delivery_class ?? '').trim().toLowerCase();
  if (cls === 'request') {
    if (!String(req.sender_token_hash ?? '').trim()) {
      return { code: ErrorCodes.RELAY_MISSING_TOKEN, reason: 'sender_token required for request delivery' };
    }
    return { cls };
  }
  if (cls === 'shared') {
    if (!String(req.recipient_token ?? '').trim()) {
      return { code: ErrorCodes.RELAY_MISSING_TOKEN, reason: 'recipient_token required for shared delivery' };
    }
    return { cls };
  }
  return { code: ErrorCodes.RELAY_BAD_CLASS, reason: 'Unsupported delivery_class' };
}

/** §7.5.6 friendly detail: must contain "unread" and "read your messages"; singular for 1. */
export function perSenderCapDetail(pending: number): string {
  const noun = pending === 1 ? 'message' : 'messages';
  const verb = pending === 1 ? 'is' : 'are';
  return `You already have ${pending} unread ${noun} from you waiting for this recipient; ${pending === 1 ? 'it' : 'they'} ${verb} still pending. Wait until they read your messages before sending more.`;
}

export const pendingFrom = (state: MailboxState, capKey: string): number =>
  state.messages.reduce((n, m) => n + (m.cap_key === capKey ? 1 : 0), 0);

const hasMsg = (state: MailboxState, msgId: string): boolean =>
  state.messages.some((m) => m.msg_id === msgId) || Object.prototype.hasOwnProperty.call(state.claimed, msgId);

/**
 * §7.5 steps 5–9 on a purged mailbox. `candidate` is fully formed by the caller (mailbox, cap key,
 * block ref chosen); its msg_id may be empty, then one is generated. A msg_id that was already
 * claimed here counts as a duplicate (never stored twice, never delivered twice).
 */
export function depositIntoMailbox(
  state: MailboxState,
  candidate: StoredMessage,
  cls: string,
  limits: RelayLimits,
  now: number,
): Decision<DepositResult> {
  if (state.messages.length >= mailboxCapacity(cls, limits)) return rej(ErrorCodes.RELAY_MAILBOX_FULL, 'Recipient mailbox full');
  const pending = pendingFrom(state, candidate.cap_key);
  if (pending >= limits.pendingPerSenderLimit) {
    return rej(ErrorCodes.RELAY_SENDER_CAP, perSenderCapDetail(pending), { pending, limit: limits.pendingPerSenderLimit });
  }
  const msgId = candidate.msg_id || generateMsgId(now);
  if (hasMsg(state, msgId)) return { ok: true, state, result: { ok: true, msg_id: msgId, duplicate: true }, changed: false };
  const msg = { ...candidate, msg_id: msgId, timestamp: now };
  return { ok: true, state: { ...state, messages: [...state.messages, msg] }, result: { ok: true, msg_id: msgId }, changed: true };
}

// ------------------------------------------------------------------------------------- accept_replica

/** §7.9 envelope wire form (plus the optional sender proof of the tightening). */
export interface ReplicaEnvelope {
  msg_id: string;
  mailbox_key: string;
  recipient_id: string;
  recipient_token: string;
  sender_id: string;
  sender_block_ref: string;
  sender_seal: string;
  ciphertext: string;
  timestamp: number;
  delivery_class: string;
  relay_salt: string;
  payload_format: string;
  session_welcome: string;
  sender_proof?: SenderProof;
}


/**
 * §7.8 steps 1–5 and the size tightening: read an inbound envelope. The mailbox key is recomputed
 * locally by the caller-supplied functions (request keys are node-local; shared keys are SHA-256(token)).
 */
export function readReplicaEnvelope(
  raw: unknown,
  limits: RelayLimits,
  keys: { requestKey(recipientId: string): string; sharedKey(token: string): string; localRecipientId?: string },
): RelayRejection | { env: ReplicaEnvelope; cls: string } {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return { code: ErrorCodes.RELAY_BAD_ENVELOPE, reason: 'envelope must be an object' };
  const o = raw as Record<string, unknown>;
  const msg_id = toStr(o.msg_id).trim();
  let mailbox_key = toStr(o.mailbox_key).trim();
  const sender_block_ref = toStr(o.sender_block_ref).trim();
  const ciphertext = toStr(o.ciphertext);
  let recipient_id = toStr(o.recipient_id).trim();
  const recipient_token = toStr(o.recipient_token).trim();
  let cls = toStr(o.delivery_class).trim().toLowerCase();
  if (!['request', 'shared', 'self'].includes(cls)) {
    if (recipient_id && !recipient_token) cls = 'request';
    else if (recipient_token) cls = 'shared';
  }
  if (cls === 'request') {
    if (!recipient_id && keys.localRecipientId) recipient_id = keys.localRecipientId;
    if (recipient_id) mailbox_key = keys.requestKey(recipient_id);
  } else if (cls === 'shared' && recipient_token) {
    mailbox_key = keys.sharedKey(recipient_token);
  }
  if (!msg_id || !mailbox_key || !sender_block_ref || !ciphertext.trim()) {
    return { code: ErrorCodes.RELAY_BAD_ENVELOPE, reason: 'envelope missing required fields' };
  }
  if (ciphertext.length > limits.maxMsgBytes) {
    return { code: ErrorCodes.RELAY_TOO_LARGE, reason: `Message too large (${ciphertext.length} > ${limits.maxMsgBytes})` };
  }
  const ts = Number(o.timestamp);
  const proof = o.sender_proof && typeof o.sender_proof === 'object' ? (o.sender_proof as SenderProof) : undefined;
  const env: ReplicaEnvelope = {
    msg_id, mailbox_key, recipient_id, recipient_token, sender_id: toStr(o.sender_id), sender_block_ref,
    sender_seal: toStr(o.sender_seal), ciphertext, timestamp: Number.isFinite(ts) ? ts : 0,
    delivery_class: toStr(o.delivery_class).trim().toLowerCase(), relay_salt: toStr(o.relay_salt),
    payload_format: toStr(o.payload_format).trim() || 'dm1', session_welcome: toStr(o.session_welcome),
    ...(proof ? { sender_proof: proof } : {}),
  };
  return { env, cls };
}

/**
 * [tightening] Whom the per-sender cap counts for a replica: the verified sender key if the proof
 * checks out; otherwise the authenticated originating peer (all its unsigned traffic shares one
 * budget per mailbox); only an in-process caller without a peer falls back to the envelope's ref.
 */
export function replicaCapKey(env: ReplicaEnvelope, verifiedNodeId: string | null, originPeerUrl?: string): string {
  if (verifiedNodeId) return `sig:${verifiedNodeId}`;
  if (originPeerUrl) return `peer:${originPeerUrl}`;
  return `ref:${env.sender_block_ref}`;
}

export interface ReplicaResult {
  ok: true;
  msg_id: string;
  duplicate?: true;
}

/** §7.8 steps 7–10 on a purged mailbox, with the timestamp clamp tightening. */
export function replicaIntoMailbox(
  state: MailboxState,
  candidate: StoredMessage,
  cls: string,
  limits: RelayLimits,
  now: number,
): Decision<ReplicaResult> {
  if (hasMsg(state, candidate.msg_id)) {
    return { ok: true, state, result: { ok: true, msg_id: candidate.msg_id, duplicate: true }, changed: false };
  }
  if (state.messages.length >= mailboxCapacity(cls, limits)) return rej(ErrorCodes.RELAY_MAILBOX_FULL, 'Recipient mailbox full');
  const pending = pendingFrom(state, candidate.cap_key);
  if (pending >= limits.pendingPerSenderLimit) {
    return rej(ErrorCodes.RELAY_SENDER_CAP, 'Per-sender cap reached on this relay; refusing replica', {
      cap_violation: true, pending, limit: limits.pendingPerSenderLimit,
    });
  }
  const ts = candidate.timestamp > 0 ? Math.min(now, Math.max(now - limits.messageTtlS, candidate.timestamp)) : now;
  const msg = { ...candidate, timestamp: ts, delivery_class: candidate.delivery_class || 'shared', payload_format: candidate.payload_format || 'dm1' };
  return { ok: true, state: { ...state, messages: [...state.messages, msg] }, result: { ok: true, msg_id: msg.msg_id }, changed: true };
}

// ------------------------------------------------------------------------------ poll / count / claim

/** What a poll returns per message (§7.6). */
export interface PolledMessage {
  sender_id: string;
  ciphertext: string;
  timestamp: number;
  msg_id: string;
  delivery_class: string;
  sender_seal: string;
  format: string;
  session_welcome: string;
}

export const toPolled = (m: StoredMessage): PolledMessage => ({
  sender_id: m.sender_id, ciphertext: m.ciphertext, timestamp: m.timestamp, msg_id: m.msg_id,
  delivery_class: m.delivery_class, sender_seal: m.sender_seal, format: m.payload_format, session_welcome: m.session_welcome,
});

/**
 * §7.6 poll selection over the pending lists of every claimed mailbox: de-duplicate by msg_id, sort by
 * relay timestamp (stable), keep the first `limit`. The chosen ids are removed from every mailbox
 * that holds them; the rest stay ("put back").
 */
export function selectForPoll(lists: readonly (readonly StoredMessage[])[], limit: number): { chosen: StoredMessage[]; hasMore: boolean } {
  const seen = new Set<string>();
  const all: StoredMessage[] = [];
  for (const list of lists) for (const m of list) if (!seen.has(m.msg_id)) { seen.add(m.msg_id); all.push(m); }
  all.sort((a, b) => a.timestamp - b.timestamp);
  return { chosen: all.slice(0, Math.max(0, limit)), hasMore: all.length > limit };
}

export function countDistinct(lists: readonly (readonly StoredMessage[])[]): number {
  const seen = new Set<string>();
  for (const list of lists) for (const m of list) seen.add(m.msg_id);
  return seen.size;
}

/**
 * Claim = ack (§7.6): remove the named messages and remember their ids as tombstones until
 * `now + messageTtlS`, so a late replica or a re-hydration cannot deliver them again.
 */
export function takeMessages(
  state: MailboxState,
  msgIds: readonly string[],
  now: number,
  limits: Pick<RelayLimits, 'messageTtlS'>,
): { state: MailboxState; taken: StoredMessage[]; changed: boolean } {
  const ids = new Set(msgIds);
  const taken = state.messages.filter((m) => ids.has(m.msg_id));
  if (taken.length === 0) return { state, taken, changed: false };
  const claimed = { ...state.claimed };
  for (const m of taken) claimed[m.msg_id] = now + limits.messageTtlS;
  return { state: { ...state, messages: state.messages.filter((m) => !ids.has(m.msg_id)), claimed }, taken, changed: true };
}
