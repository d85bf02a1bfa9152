// What the peer application needs from the mailboxes (issue 9): accept a replica, apply an ack, list pending
// envelopes for a pull. actors/mailbox-registry.ts satisfies it structurally.
import type { ReplicaEnvelope, ReplicaResult } from '../protocol/mailbox-rules.js';

/** Which mailbox an ack or pull names (§10.1, §10.2). */
export interface MailboxDescriptor {
  delivery_class: string;
  recipient_id?: string;
  recipient_token_hash?: string;
}

export interface MailboxPort {
  /** §7.8 accept_replica; `originatingPeerUrl` is the authenticated peer (docs/mailbox-sender-cap.md). */
  acceptReplica(envelope: unknown, originatingPeerUrl?: string): Promise<ReplicaResult>;
  /**
   * accept_replica for a list (the batch route): per envelope its result or the typed refusal acceptReplica would
   * throw, in order; one durable write for the list. Optional: without it the route calls acceptReplica per item.
   */
  acceptReplicas?(envelopes: readonly unknown[], originatingPeerUrl?: string): Promise<Array<ReplicaResult | Error>>;
  /** §10.1.2: deletes the exact msg_id in the described mailbox; true when something was removed. */
  applyAck(msgId: string, descriptor: MailboxDescriptor, proof?: unknown): Promise<boolean>;
  /** §10.2: up to `limit` pending envelopes of the described mailbox. */
  pendingEnvelopes(descriptor: MailboxDescriptor, limit: number, proof?: unknown): Promise<ReplicaEnvelope[]>;
}
