// What the relay stores for a deposit (§7.5) or a replica (§7.8), decided before the mailbox actor sees it: the
// target mailbox, the sender block ref and block-list check (§7.4, §7.5.1), the identity the per-sender cap counts
// (docs/mailbox-sender-cap.md) and the stored message itself. Pure (split out of the registry's depositAs).
import { ErrorCodes } from './errors.js';
import { type SenderProof, verifySenderProof } from './dm-sender-proof.js';
import { type MailboxBindings, deliveryMailboxKey, senderBlockRef, sharedMailboxKey } from './mailbox-keys.js';
import {
  type DepositRequest, type RelayLimits, type RelayRejection, type ReplicaEnvelope, type StoredMessage,
  checkDepositRequest, readReplicaEnvelope, replicaCapKey,
} from './mailbox-rules.js';

export interface RelayContext {
  pepper: string;
  now: number;
  bindings: MailboxBindings;
  limits: RelayLimits;
  /** True when any of these sender block refs is blocked for the target (block lists, §7.5.1). */
  isBlocked(target: { recipientId?: string; mailboxKey: string }, refs: readonly string[]): boolean;
  /**
   * False when isBlocked is false for every input (no block stored, no extra hook): refs computed only to be checked
   * (a keyed hash each) are then skipped — issue 14, one HMAC per replica. Absent: treated as true.
   */
  mayBlock?: boolean;
}

export interface PlannedDeposit {
  mailboxKey: string;
  cls: 'request' | 'shared';
  recipientId: string;
  candidate: StoredMessage;
}

const BLOCKED: RelayRejection = { code: ErrorCodes.RELAY_BLOCKED, reason: 'Recipient is not accepting your messages' };

/** The refs a sender id matches for a recipient-scoped target (a raw sender id, not a `sender_token:` alias). */
const refsFor = (pepper: string, senders: readonly (string | null | undefined)[], target: { recipientId?: string; recipientToken?: string; deliveryClass?: string }): string[] =>
  senders.filter((s): s is string => !!s && !s.startsWith('sender_token:')).map((s) => senderBlockRef(pepper, s, target));

/**
 * §7.5 steps 1, 2, 4 plus the sender proof. `capKey` is given for chain DMs (the signed chain author); otherwise
 * a valid sender proof makes the cap count the sender's key, and a local caller without one counts its block ref.
 */
export function planDeposit(req: DepositRequest, origin: 'local' | 'chain', ctx: RelayContext, capKey?: string): RelayRejection | PlannedDeposit {
  const recipientId = String(req.recipient_id ?? '').trim();
  const recipientToken = String(req.recipient_token ?? '').trim();
  const cls0 = String(req.delivery_class ?? '').trim().toLowerCase();
  const authority = String(req.raw_sender_id || req.sender_id || '');
  const scope = { recipientId, recipientToken, deliveryClass: cls0 };
  const blockRef = senderBlockRef(ctx.pepper, authority, scope);
  const mailboxKey = cls0 === 'shared' ? sharedMailboxKey(recipientToken) : deliveryMailboxKey(ctx.pepper, 'request', { recipientId }, ctx.now, ctx.bindings);
  const check = checkDepositRequest(req, ctx.limits, ctx.isBlocked({ recipientId, mailboxKey }, [blockRef]));
  if ('code' in check) return check;
  const cls = check.cls;
  let cap = capKey;
  let proof: SenderProof | undefined;
  if (!cap && req.sender_proof) {
    const signer = verifySenderProof(req.sender_proof, {
      delivery_class: cls, recipient_id: recipientId, recipient_token: recipientToken, msg_id: String(req.msg_id ?? ''), ciphertext: req.ciphertext,
    });
    if (!signer) return { code: ErrorCodes.INVALID_SIGNATURE, reason: 'Invalid signature: sender proof does not verify' };
    // The verified key is the sender whatever id the caller claims: a block of that key applies too.
    if (ctx.mayBlock !== false && ctx.isBlocked({ recipientId, mailboxKey }, refsFor(ctx.pepper, [signer], scope))) return BLOCKED;
    cap = `sig:${signer}`;
    proof = { public_key: req.sender_proof.public_key, signature: req.sender_proof.signature };
  }
  const tokenHash = String(req.sender_token_hash ?? '').trim();
  const candidate: StoredMessage = {
    msg_id: String(req.msg_id ?? '').trim(),
    sender_id: tokenHash ? `sender_token:${tokenHash}` : String(req.sender_id ?? ''),
    ciphertext: req.ciphertext, timestamp: ctx.now, delivery_class: cls,
    sender_seal: String(req.sender_seal ?? ''), relay_salt: String(req.relay_salt ?? ''), sender_block_ref: blockRef,
    payload_format: String(req.payload_format ?? '').trim() || 'dm1', session_welcome: String(req.session_welcome ?? ''),
    cap_key: cap ?? `ref:${blockRef}`, origin,
    ...(proof ? { sender_proof: proof } : {}),
    ...(cls === 'request' ? { recipient_id: recipientId } : {}),
  };
  return { mailboxKey, cls, recipientId, candidate };
}

export interface PlannedReplica {
  mailboxKey: string;
  cls: string;
  candidate: StoredMessage;
}

/**
 * §7.8 steps 1–5 and the tightenings (size, block list, cap identity); the actor does steps 7–10. `peer` is the
 * authenticated originating peer, normalised by the caller.
 */
export function planReplica(raw: unknown, ctx: RelayContext & { localRecipientId?: string }, peer?: string): RelayRejection | PlannedReplica {
  const read = readReplicaEnvelope(raw, ctx.limits, {
    requestKey: (rid) => deliveryMailboxKey(ctx.pepper, 'request', { recipientId: rid }, ctx.now, ctx.bindings),
    sharedKey: sharedMailboxKey,
    localRecipientId: ctx.localRecipientId,
  });
  if ('code' in read) return read;
  const { env, cls } = read;
  const verified = env.sender_proof
    ? verifySenderProof(env.sender_proof, {
      delivery_class: cls, recipient_id: env.recipient_id, recipient_token: env.recipient_token, shared_key: env.mailbox_key,
      msg_id: env.msg_id, ciphertext: env.ciphertext,
    })
    : null;
  const scope = { recipientId: env.recipient_id, recipientToken: env.recipient_token, deliveryClass: cls };
  const localRef = verified ? senderBlockRef(ctx.pepper, verified, scope) : env.sender_block_ref;
  // The envelope's own ref is peppered by its origin node; this node can only match refs it computes itself.
  if (ctx.mayBlock !== false) {
    const refs = [localRef, env.sender_block_ref, ...refsFor(ctx.pepper, [env.sender_id], scope)];
    if (ctx.isBlocked({ recipientId: env.recipient_id, mailboxKey: env.mailbox_key }, refs)) return BLOCKED;
  }
  const candidate: StoredMessage = {
    msg_id: env.msg_id, sender_id: env.sender_id, ciphertext: env.ciphertext, timestamp: env.timestamp,
    delivery_class: env.delivery_class, sender_seal: env.sender_seal, relay_salt: env.relay_salt, sender_block_ref: localRef,
    payload_format: env.payload_format, session_welcome: env.session_welcome,
    cap_key: replicaCapKey(env, verified, peer), origin: 'replica',
    ...(verified && env.sender_proof ? { sender_proof: { public_key: env.sender_proof.public_key, signature: env.sender_proof.signature } } : {}),
    ...(cls === 'request' && env.recipient_id ? { recipient_id: env.recipient_id } : {}),
  };
  return { mailboxKey: env.mailbox_key, cls, candidate };
}

/** §7.9 envelope of a stored message (recipient fields trimmed, empty when unknown). */
export function envelopeOf(mailboxKey: string, m: StoredMessage, recipientId?: string, recipientToken?: string): ReplicaEnvelope {
  return {
    msg_id: m.msg_id, mailbox_key: mailboxKey, recipient_id: (recipientId ?? m.recipient_id ?? '').trim(),
    recipient_token: (recipientToken ?? '').trim(), sender_id: m.sender_id, sender_block_ref: m.sender_block_ref,
    sender_seal: m.sender_seal, ciphertext: m.ciphertext, timestamp: m.timestamp, delivery_class: m.delivery_class,
    relay_salt: m.relay_salt, payload_format: m.payload_format, session_welcome: m.session_welcome,
    ...(m.sender_proof ? { sender_proof: m.sender_proof } : {}),
  };
}
