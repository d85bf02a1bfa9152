// Recipient block lists (spec §7.5.1, §7.8 tightening; issue 8): a recipient signs a `dm_block` request with
// `block`/`unblock` and a sender id; deposits and replicas from that sender to that recipient are then refused with
// `Recipient is not accepting your messages`. A block is stored as the recipient-scoped sender block ref of §7.4
// (peppered, so the stored list names nobody in clear). Signed like the mailbox requests (§2.4 string, event_type
// `dm_block`, node_id = agent_id, payload {action, sender_id, timestamp, nonce}) and checked against the nonce cache
// and the persisted `dm_block` private signed-write domain.
import { ErrorCodes, reject, type Rejection } from './errors.js';
import type { Identity } from './identity.js';
import { readSignedEnvelope, signedFieldsOf, verifySignedFields, type SignedFields } from './mailbox-access.js';
import { senderBlockRef } from './mailbox-keys.js';
import { signaturePayload } from './signature-payload.js';
import { signEd25519 } from './signatures.js';

export const BLOCK_EVENT_TYPE = 'dm_block';
export type BlockAction = 'block' | 'unblock';

export interface SignedBlockRequest extends SignedFields {
  action: BlockAction;
  sender_id: string;
}

/** Bounds (docs/bounds.md): blocks per recipient, blocks per node, length of a blocked sender id. */
export const MAX_BLOCKS_PER_RECIPIENT = 1024;
export const MAX_BLOCKS_TOTAL = 100_000;
export const MAX_BLOCKED_SENDER_LENGTH = 128;

export const blockSignatureString = (r: Pick<SignedBlockRequest, 'agent_id' | 'action' | 'sender_id' | 'sequence' | 'timestamp' | 'nonce'>): string =>
  signaturePayload(BLOCK_EVENT_TYPE, r.agent_id, r.sequence, { action: r.action, sender_id: r.sender_id, timestamp: r.timestamp, nonce: r.nonce });

/** Client side; `sequence` defaults to the current time in ms like the mailbox requests. */
export function signBlockRequest(id: Identity, o: { action: BlockAction; sender_id: string; timestamp: number; nonce: string; sequence?: number }): SignedBlockRequest {
  const base = { agent_id: id.nodeId, action: o.action, sender_id: o.sender_id, sequence: o.sequence ?? Math.floor(o.timestamp * 1000), timestamp: Math.floor(o.timestamp), nonce: o.nonce };
  return { ...base, public_key: id.publicKey, public_key_algo: id.publicKeyAlgo, signature: signEd25519(id.privateKey, blockSignatureString(base)) };
}

export function readSignedBlockRequest(raw: unknown): Rejection | SignedBlockRequest {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return reject(ErrorCodes.BAD_INPUT, 'request must be a map');
  const o = raw as Record<string, unknown>;
  const env = readSignedEnvelope(o);
  if (env) return env;
  if (o.action !== 'block' && o.action !== 'unblock') return reject(ErrorCodes.BAD_INPUT, 'action must be "block" or "unblock"');
  if (typeof o.sender_id !== 'string' || !o.sender_id.trim()) return reject(ErrorCodes.BAD_INPUT, 'sender_id is required and must be a string');
  if (o.sender_id.length > MAX_BLOCKED_SENDER_LENGTH) return reject(ErrorCodes.BAD_INPUT, `sender_id too long (max ${MAX_BLOCKED_SENDER_LENGTH} characters)`);
  const { agent_id, ...signed } = signedFieldsOf(o);
  return { agent_id, action: o.action, sender_id: o.sender_id, ...signed };
}

export function verifyBlockSignature(r: SignedBlockRequest): Rejection | null {
  return verifySignedFields(r, () => blockSignatureString(r));
}

/** The §7.4 recipient-scoped ref a block of `senderId` by `recipientId` matches. */
export const blockRefOf = (pepper: string, recipientId: string, senderId: string): string =>
  senderBlockRef(pepper, senderId.trim(), { recipientId });

/** The in-memory view of every stored block: refs to refuse, counted per recipient (bounded). */
export class BlockList {
  private readonly refs = new Set<string>();
  private readonly perRecipient = new Map<string, Set<string>>();

  constructor(readonly perRecipientMax = MAX_BLOCKS_PER_RECIPIENT, readonly totalMax = MAX_BLOCKS_TOTAL) {}

  get size(): number {
    return this.refs.size;
  }

  has(ref: string): boolean {
    return this.refs.has(ref);
  }

  /** Null when the block can be added (or is there already); a typed rejection at capacity. */
  canAdd(recipientId: string, ref: string): Rejection | null {
    if (this.refs.has(ref)) return null;
    if ((this.perRecipient.get(recipientId)?.size ?? 0) >= this.perRecipientMax) return reject(ErrorCodes.BAD_INPUT, `block list full (max ${this.perRecipientMax} per recipient)`);
    if (this.refs.size >= this.totalMax) return reject(ErrorCodes.UNAVAILABLE, 'block list at capacity');
    return null;
  }

  add(recipientId: string, ref: string): void {
    this.refs.add(ref);
    let s = this.perRecipient.get(recipientId);
    if (!s) this.perRecipient.set(recipientId, (s = new Set()));
    s.add(ref);
  }

  remove(recipientId: string, ref: string): void {
    this.refs.delete(ref);
    const s = this.perRecipient.get(recipientId);
    s?.delete(ref);
    if (s && s.size === 0) this.perRecipient.delete(recipientId);
  }
}
