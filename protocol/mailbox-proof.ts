// Acks and pulls that only the recipient can cause (issue 8 item 5; spec §10.1, §10.2 made safe). A peer's
// `dm/ack` deletes a replica, and `dm/pull` lists a mailbox, only when the body carries the recipient's signed poll
// (a MailboxProof, protocol/mailbox-access.ts) that covers that mailbox. No nonce-cache check on forwarded proofs —
// one poll is reused by every ack and retry of its messages — a freshness window bounds their reuse instead.
// See docs/mailbox-access.md (what a compromised peer can and cannot do now).
import { ErrorCodes, reject, type Rejection } from './errors.js';
import { type MailboxProof, readMailboxProof, verifyAccessSignature } from './mailbox-access.js';

/** §10.1 mailbox descriptor: shared mailboxes by SHA-256(token), request mailboxes by recipient id. */
export interface ProofDescriptor {
  delivery_class: string;
  recipient_id?: string;
  recipient_token_hash?: string;
}

/** Clock skew allowed between the polling node and this one when comparing relay timestamps with the proof's. */
export const PROOF_SKEW_S = 30;

/**
 * A forwarded proof is usable when it is well-formed, binds its key to its agent id, verifies as a `dm_poll`
 * signature, and is younger than the relay message TTL (older proofs cannot cover any message still pending).
 */
export function checkForwardedProof(raw: unknown, now: number, messageTtlS: number): Rejection | MailboxProof {
  if (raw === undefined || raw === null) return reject(ErrorCodes.PEER_AUTH, 'missing recipient proof');
  const p = readMailboxProof(raw);
  if ('code' in p) return p;
  const bad = verifyAccessSignature(p, 'dm_poll');
  if (bad) return bad;
  if (p.timestamp > now + PROOF_SKEW_S || now - p.timestamp > messageTtlS) return reject(ErrorCodes.STALE_TIMESTAMP, 'recipient proof outside its freshness window');
  return p;
}

/** Does the verified proof open the described mailbox? Request: the agent itself with a `requests` claim; shared: a claimed token hash. */
export function proofCovers(p: MailboxProof, d: ProofDescriptor): boolean {
  const cls = String(d.delivery_class ?? '').trim().toLowerCase();
  if (cls === 'shared') {
    const h = String(d.recipient_token_hash ?? '').trim().toLowerCase();
    return !!h && p.claims.some((c) => c.type === 'shared' && c.token_hash === h);
  }
  const rid = String(d.recipient_id ?? '').trim();
  return !!rid && rid === p.agent_id && p.claims.some((c) => c.type === 'requests' && c.token_hash !== '');
}

/**
 * Could this poll have claimed a message stored here at `relayTimestamp`? Not if it was stored after the poll
 * (+ skew); and a claim names its msg_ids, so it covers only those.
 */
export function proofCanHaveClaimed(p: MailboxProof, msgId: string, relayTimestamp: number): boolean {
  if (relayTimestamp > p.timestamp + PROOF_SKEW_S) return false;
  return !p.msg_ids || p.msg_ids.includes(msgId);
}
