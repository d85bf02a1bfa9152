// Signed mailbox access (spec §7.6, §3.1 private signed-write domains; issue 8 item 1): poll, claim, count and
// pending-ids need a request signed by the agent's own key. What is signed is the §2.4 signature payload string
// with event_type `dm_poll` (poll, claim) or `dm_count` (count, pending_ids), node_id = agent_id and payload
// `{mailbox_claims: [{type, token_hash}], timestamp, nonce}` (+ `msg_ids` for a claim).
// Tokens are signed as SHA-256(token) hex ('' without a token): the node only ever uses SHA-256(token) (the shared
// mailbox key and the binding key), so the signed request minus its tokens — a `MailboxProof` — can travel to peers
// as proof that the recipient polled, without leaking shared-mailbox capabilities (docs/mailbox-access.md).
import { ErrorCodes, reject, type Rejection } from './errors.js';
import { deriveNodeId, type Identity } from './identity.js';
import { MAX_AGENT_ID_LENGTH, MAX_CLAIMS, sha256Hex } from './mailbox-keys.js';
import { signaturePayload } from './signature-payload.js';
import { signEd25519, verifySignature } from './signatures.js';

export type MailboxAccessKind = 'poll' | 'claim' | 'count' | 'pending_ids';
export type MailboxAccessEventType = 'dm_poll' | 'dm_count';

/** Poll and claim remove mail (domain `dm_poll`); count and pending-ids only look (domain `dm_count`). */
export const accessEventType = (kind: MailboxAccessKind): MailboxAccessEventType =>
  kind === 'poll' || kind === 'claim' ? 'dm_poll' : 'dm_count';

export interface MailboxClaimInput {
  type: string;
  token?: string;
}

/** The fields every signed request and proof carries (mailbox access here, blocks in block-list.ts). */
export interface SignedFields {
  agent_id: string;
  public_key: string;
  public_key_algo: string;
  sequence: number;
  timestamp: number;
  nonce: string;
  signature: string;
}

/** What a client sends for poll/claim/count/pending_ids (bus and HTTP alike). */
export interface SignedMailboxRequest extends SignedFields {
  claims: MailboxClaimInput[];
  /** poll only; not signed (it only shortens the answer). */
  limit?: number;
  /** claim only; signed. */
  msg_ids?: string[];
}

export interface HashedClaim {
  type: string;
  token_hash: string;
}

/** A signed poll/claim without its tokens: forwardable proof that the agent claimed these mailboxes. */
export interface MailboxProof extends SignedFields {
  claims: HashedClaim[];
  msg_ids?: string[];
}

// Hard bounds on everything an outsider sends (docs/bounds.md).
export const MAX_NONCE_LENGTH = 128;
export const MAX_TOKEN_LENGTH = 1024;
export const MAX_CLAIM_MSG_IDS = 1000;
export const MAX_MSG_ID_LENGTH = 128;

/** Claims are normalised exactly as the relay reads them (§7.2: type trimmed + lower-cased, token trimmed). */
export const claimTokenHash = (token: string | undefined): string => {
  const t = typeof token === 'string' ? token.trim() : '';
  return t ? sha256Hex(t) : '';
};

export const hashClaims = (claims: readonly MailboxClaimInput[]): HashedClaim[] =>
  claims.map((c) => ({ type: String(c.type ?? '').trim().toLowerCase(), token_hash: claimTokenHash(c.token) }));

export function accessPayload(claims: readonly HashedClaim[], timestamp: number, nonce: string, msgIds?: readonly string[]): Record<string, unknown> {
  return { mailbox_claims: claims.map((c) => ({ type: c.type, token_hash: c.token_hash })), timestamp, nonce, ...(msgIds ? { msg_ids: [...msgIds] } : {}) };
}

export function accessSignatureString(eventType: MailboxAccessEventType, agentId: string, sequence: number, claims: readonly HashedClaim[], timestamp: number, nonce: string, msgIds?: readonly string[]): string {
  return signaturePayload(eventType, agentId, sequence, accessPayload(claims, timestamp, nonce, msgIds));
}

/**
 * Client side: a signed request. `sequence` defaults to the current time in ms, so a client needs no counter (any
 * strictly increasing number is accepted by the `dm_poll` / `dm_count` domain); `nonce` defaults to 16 random bytes.
 */
export function signMailboxRequest(
  id: Identity,
  kind: MailboxAccessKind,
  o: { claims: MailboxClaimInput[]; timestamp: number; nonce: string; sequence?: number; limit?: number; msg_ids?: string[] },
): SignedMailboxRequest {
  const sequence = o.sequence ?? Math.floor(o.timestamp * 1000);
  const timestamp = Math.floor(o.timestamp);
  const msgIds = kind === 'claim' ? o.msg_ids ?? [] : undefined;
  const sig = signEd25519(id.privateKey, accessSignatureString(accessEventType(kind), id.nodeId, sequence, hashClaims(o.claims), timestamp, o.nonce, msgIds));
  return {
    agent_id: id.nodeId, claims: o.claims.map((c) => (c.token === undefined ? { type: c.type } : { type: c.type, token: c.token })),
    public_key: id.publicKey, public_key_algo: id.publicKeyAlgo, sequence, timestamp, nonce: o.nonce, signature: sig,
    ...(o.limit !== undefined && kind === 'poll' ? { limit: o.limit } : {}),
    ...(msgIds ? { msg_ids: msgIds } : {}),
  };
}

const bad = (reason: string): Rejection => reject(ErrorCodes.BAD_INPUT, reason);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An agent id is a node id (36 chars); anything longer is refused before it can key any state (issue 8 item 3). */
export function checkAgentId(agentId: unknown): Rejection | null {
  if (typeof agentId !== 'string' || agentId.length === 0) return bad('agent_id is required and must be a string');
  if (agentId.length > MAX_AGENT_ID_LENGTH) return bad(`agent_id too long (max ${MAX_AGENT_ID_LENGTH} characters)`);
  return null;
}

/** Fields common to signed requests and proofs; `Missing nonce` is the spec's reason (Appendix C). */
export function readSignedEnvelope(o: Record<string, unknown>): Rejection | null {
  const a = checkAgentId(o.agent_id);
  if (a) return a;
  for (const k of ['public_key', 'public_key_algo', 'signature'] as const) {
    if (typeof o[k] !== 'string' || !(o[k] as string)) return reject(ErrorCodes.MISSING_SIGNATURE_FIELDS, 'Missing signature fields');
    if ((o[k] as string).length > 256) return bad(`${k} too long`);
  }
  if (typeof o.sequence !== 'number' || !Number.isFinite(o.sequence)) return reject(ErrorCodes.INVALID_SEQUENCE, 'Sequence must be a positive integer');
  if (typeof o.timestamp !== 'number' || !Number.isFinite(o.timestamp)) return bad('timestamp must be a number');
  if (o.nonce === undefined || o.nonce === null || o.nonce === '') return reject(ErrorCodes.NONCE, 'Missing nonce');
  if (typeof o.nonce !== 'string') return bad('nonce must be a string');
  if (o.nonce.length > MAX_NONCE_LENGTH) return bad(`nonce too long (max ${MAX_NONCE_LENGTH} characters)`);
  return null;
}

/** The signed fields of a record `readSignedEnvelope` accepted (or of a typed request), in their wire order. */
export function signedFieldsOf(o: Partial<Record<keyof SignedFields, unknown>>): SignedFields {
  return {
    agent_id: o.agent_id as string, public_key: o.public_key as string, public_key_algo: o.public_key_algo as string,
    sequence: o.sequence as number, timestamp: o.timestamp as number, nonce: o.nonce as string, signature: o.signature as string,
  };
}

/**
 * §1.2.3 binding, the sequence, then the signature over `signed()` (built only once the first two hold). Serves the
 * mailbox requests and proofs and the block requests alike.
 */
export function verifySignedFields(p: SignedFields, signed: () => string): Rejection | null {
  const derived = deriveNodeId(p.public_key);
  if (!derived || derived !== p.agent_id) return reject(ErrorCodes.NODE_ID_MISMATCH, 'node_id mismatch');
  if (!Number.isSafeInteger(p.sequence) || p.sequence <= 0) return reject(ErrorCodes.INVALID_SEQUENCE, 'Sequence must be a positive integer');
  if (!verifySignature(p.public_key_algo, p.public_key, p.signature, signed())) return reject(ErrorCodes.INVALID_SIGNATURE, 'Invalid signature');
  return null;
}

function readMsgIds(v: unknown): Rejection | string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) return bad('msg_ids must be a list of strings');
  if (v.length > MAX_CLAIM_MSG_IDS) return bad(`at most ${MAX_CLAIM_MSG_IDS} msg_ids per claim`);
  if (v.some((x: string) => x.length > MAX_MSG_ID_LENGTH)) return bad(`msg_id too long (max ${MAX_MSG_ID_LENGTH} characters)`);
  return v as string[];
}

/** Shape check of an inbound signed request (BAD_INPUT / Missing nonce); nothing is verified yet. */
export function readSignedMailboxRequest(raw: unknown, kind: MailboxAccessKind): Rejection | SignedMailboxRequest {
  if (!isRecord(raw)) return bad('request must be a map');
  const env = readSignedEnvelope(raw);
  if (env) return env;
  if (!Array.isArray(raw.claims)) return bad('claims must be a list');
  if (raw.claims.length > MAX_CLAIMS) return bad(`at most ${MAX_CLAIMS} claims per request`);
  const claims: MailboxClaimInput[] = [];
  for (const [i, c] of (raw.claims as unknown[]).entries()) {
    if (!isRecord(c) || typeof c.type !== 'string' || c.type.length > 32) return bad(`claims[${i}] must be a map with a string type`);
    if (c.token !== undefined && c.token !== null && typeof c.token !== 'string') return bad(`claims[${i}].token must be a string`);
    if (typeof c.token === 'string' && c.token.length > MAX_TOKEN_LENGTH) return bad(`claims[${i}].token too long (max ${MAX_TOKEN_LENGTH})`);
    claims.push(typeof c.token === 'string' ? { type: c.type, token: c.token } : { type: c.type });
  }
  let limit: number | undefined;
  if (kind === 'poll' && raw.limit !== undefined && raw.limit !== null) {
    if (typeof raw.limit !== 'number' || !Number.isSafeInteger(raw.limit) || raw.limit < 1) return bad('limit must be a positive integer');
    limit = raw.limit;
  }
  const msgIds = kind === 'claim' ? readMsgIds(raw.msg_ids) : undefined;
  if (msgIds && !Array.isArray(msgIds)) return msgIds;
  const { agent_id, ...signed } = signedFieldsOf(raw);
  return { agent_id, claims, ...signed, ...(limit !== undefined ? { limit } : {}), ...(msgIds ? { msg_ids: msgIds } : {}) };
}

/** Shape check of a forwarded proof (peer dm/ack, dm/pull). */
export function readMailboxProof(raw: unknown): Rejection | MailboxProof {
  if (!isRecord(raw)) return bad('proof must be a map');
  const env = readSignedEnvelope(raw);
  if (env) return env;
  if (!Array.isArray(raw.claims) || raw.claims.length > MAX_CLAIMS) return bad(`proof claims must be a list of at most ${MAX_CLAIMS}`);
  const claims: HashedClaim[] = [];
  for (const c of raw.claims as unknown[]) {
    if (!isRecord(c) || typeof c.type !== 'string' || c.type.length > 32 || typeof c.token_hash !== 'string' || !/^([0-9a-f]{64})?$/.test(c.token_hash)) {
      return bad('proof claims must be {type, token_hash}');
    }
    claims.push({ type: c.type, token_hash: c.token_hash });
  }
  const msgIds = raw.msg_ids !== undefined && raw.msg_ids !== null ? readMsgIds(raw.msg_ids) : undefined;
  if (msgIds && !Array.isArray(msgIds)) return msgIds;
  const { agent_id, ...signed } = signedFieldsOf(raw);
  return { agent_id, claims, ...signed, ...(msgIds ? { msg_ids: msgIds } : {}) };
}

/** The forwardable proof of a verified poll/claim: the same signed fields, tokens replaced by their hashes. */
export function toMailboxProof(req: SignedMailboxRequest): MailboxProof {
  const { agent_id, ...signed } = signedFieldsOf(req);
  return { agent_id, claims: hashClaims(req.claims), ...signed, ...(req.msg_ids ? { msg_ids: req.msg_ids } : {}) };
}

/**
 * §1.2.3 binding, then the signature. The same check serves a client's request (after hashing its tokens) and a
 * forwarded proof, because both sign the same string.
 */
export function verifyAccessSignature(p: MailboxProof, eventType: MailboxAccessEventType): Rejection | null {
  return verifySignedFields(p, () => accessSignatureString(eventType, p.agent_id, p.sequence, p.claims, p.timestamp, p.nonce, p.msg_ids));
}

/** A signed request is fresh when its timestamp lies within ±window of now (the nonce cache remembers that long). */
export function checkAccessTimestamp(timestamp: number, now: number, windowS: number): Rejection | null {
  if (Math.abs(now - timestamp) > windowS) {
    return reject(ErrorCodes.STALE_TIMESTAMP, `request timestamp outside the ±${windowS} s window`);
  }
  return null;
}
