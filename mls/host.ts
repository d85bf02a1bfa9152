// What the MLS owner needs from its node: sign-and-append with the node key, read the chain, and the DM mailbox
// path (deposit a sealed Welcome / session message; poll the persona's mailbox). The composition root builds it
// from the chain actor and the mailbox registry (mlsHostOf); tests build the same from parts they construct.
import type { ChainActor } from '../actors/chain-actor.js';
import type { MailboxRegistry } from '../actors/mailbox-registry.js';
import type { Clock } from '../protocol/clock.js';
import type { ChainEvent } from '../protocol/event.js';
import type { Identity } from '../protocol/identity.js';
import type { MailboxClaim } from '../protocol/mailbox-keys.js';
import type { DepositRequest, PolledMessage } from '../protocol/mailbox-rules.js';

export interface MlsHost {
  readonly nodeId: string;
  now(): number;
  /** Signs with the node key and appends durably (public path for gate_create, gate path for gate_message). */
  append(eventType: string, payload: Record<string, unknown>): Promise<ChainEvent>;
  chainLength(): number;
  readRange(from: number, limit: number): Promise<ChainEvent[]>;
  deposit(req: DepositRequest): Promise<{ msg_id: string }>;
  poll(agentId: string, claims: readonly MailboxClaim[]): Promise<{ messages: PolledMessage[] }>;
  /** §7.6 count_claims: pending messages, non-destructive (the console's pending invitations). */
  count(agentId: string, claims: readonly MailboxClaim[]): Promise<number>;
}

export function mlsHostOf(chain: ChainActor, identity: Identity, mailboxes: MailboxRegistry, clock: Clock): MlsHost {
  return {
    nodeId: identity.nodeId,
    now: clock,
    append: (type, payload) => chain.appendLocal(identity, type, payload),
    chainLength: () => chain.length,
    readRange: (from, limit) => chain.readRange(from, limit),
    deposit: (req) => mailboxes.deposit(req),
    poll: (agentId, claims) => mailboxes.poll(agentId, claims),
    count: (agentId, claims) => mailboxes.count(agentId, claims),
  };
}
