// The owner's stored records (sublevel `mls`, sealed at rest by store/mls-store.ts), their keys, the inner plaintext
// of a post or DM, and the bounds on what callers and peers can grow.
import { createHash } from 'node:crypto';
import type { PrivateKeyPackage } from 'ts-mls';
import { ErrorCodes, InfonetError } from '../protocol/errors.js';
import type { DepositRequest } from '../protocol/mailbox-rules.js';
import { unwrapDmPlaintext } from '../protocol/mls-framing.js';

export const bad = (reason: string): never => {
  throw new InfonetError(ErrorCodes.BAD_INPUT, reason);
};
export const b64 = (u: Uint8Array): string => Buffer.from(u).toString('base64');
export const unb64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(String(s ?? ''), 'base64'));
export const enc = new TextEncoder();
export const dec = new TextDecoder();
export const sha256Hex = (s: string | Uint8Array): string => createHash('sha256').update(s).digest('hex');

/** Bounds on what callers and peers can grow. */
export const LIMITS = {
  bodyBytes: 4096,
  keyPackagesPerPersona: 32,
  partialFragments: 16,
  fragmentsPerMessage: 64,
  readPage: 500,
  /** gate.pending answers for at most this many personas (sorted by name). */
  pendingPersonas: 64,
  personaName: /^[A-Za-z0-9._@-]{1,64}$/,
};

export interface Persona {
  name: string;
  sig_pub: Uint8Array;
  sig_key: Uint8Array;
  recipient_id: string;
  /** Secret claim token of the persona's `requests` mailbox (§7.2: a claim needs a token). */
  claim_token: string;
}

export interface KeyPackageRecord {
  persona: string;
  purpose: 'gate' | 'dm';
  welcome_dh_pub: string;
  welcome_priv: string;
  public: Uint8Array;
  private: PrivateKeyPackage;
  created_at: number;
}

export interface PendingCommit {
  payloads: Array<Record<string, unknown>>;
  deposit?: DepositRequest;
}

export interface GateRecord {
  gate_id: string;
  display_name: string;
  rules: Record<string, unknown>;
  persona: string;
  created_at: number;
  /** gate_create appended (creator only; false between the state write and the append). */
  announced: boolean;
  joined_epoch: number;
  /** Chain height up to which this gate's events were processed. */
  cursor: number;
  state: Uint8Array;
  last_post_at: number | null;
  views: number;
  failed: number;
  stale: number;
  fragments: Record<string, { count: number; parts: Record<string, Uint8Array> }>;
  pending?: PendingCommit;
}

export interface ViewEntry {
  n: number;
  event_id: string;
  height: number;
  sender: string;
  sender_ref: string;
  sender_ref_ok: boolean;
  msg_id: string;
  body: string;
  sent_at: number;
  epoch: number;
  own: boolean;
  /** The event's claimed epoch did not match the MLS message's epoch (§11.2). */
  stale?: boolean;
}

export interface SessionRecord {
  session_id: string;
  alias: string;
  peer_alias: string;
  peer_recipient_id: string;
  /** Token of the `shared` mailbox the peer reads (set once the peer told us); until then `request` delivery. */
  peer_token: string;
  /** Token of the `shared` mailbox we read for this session. */
  own_token: string;
  state: Uint8Array;
  views: number;
}


export interface InnerMessage { v: 1; id: string; from: string; body: string; ts: number; reply_token?: string }

export const gateKey = (g: string): string => `g:${g}`;
export const viewKey = (g: string, n: number): string => `v:${g}:${n.toString().padStart(10, '0')}`;
export const sessionKey = (s: string): string => `d:${s}`;
export const dmViewKey = (s: string, n: number): string => `dv:${s}:${n.toString().padStart(10, '0')}`;

export function parseInner(bytes: Uint8Array): InnerMessage {
  const o = JSON.parse(dec.decode(unwrapDmPlaintext(bytes))) as InnerMessage;
  if (!o || typeof o.id !== 'string' || typeof o.from !== 'string' || typeof o.body !== 'string') throw new Error('bad inner message');
  return o;
}

export function checkBody(text: unknown): string {
  if (typeof text !== 'string' || text.length === 0) bad('text is required');
  if (enc.encode(text as string).length > LIMITS.bodyBytes) bad(`text exceeds ${LIMITS.bodyBytes} bytes`);
  return text as string;
}

