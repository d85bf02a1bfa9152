// Mailbox keys and sender references of the DM relay (spec §7.2, §7.4; vectors in Appendix A.8).
// Request/self keys are peppered with a per-node secret, so they are node-local; shared keys are
// SHA-256(token) and therefore identical on every node.
import { createHash } from 'node:crypto';

export const EPOCH_SECONDS = 21600;
/** At most this many claims of one poll/count request are processed (§7.2). */
export const MAX_CLAIMS = 32;
/** A node id is `!sb_` + 32 hex = 36 characters; longer agent/recipient ids are refused (issue 8 item 3). */
export const MAX_AGENT_ID_LENGTH = 36;

export const sha256Hex = (s: string | Uint8Array): string => createHash('sha256').update(s).digest('hex');

export const epochOf = (now: number): number => Math.floor(now / EPOCH_SECONDS);

export const peppered = (pepper: string, x: string): string => sha256Hex(`${pepper}|${x}`);

export const requestMailboxKey = (pepper: string, recipientId: string, now: number, epoch = epochOf(now)): string =>
  peppered(pepper, `requests|${epoch}|${recipientId}`);

export const selfMailboxKey = (pepper: string, agentId: string, now: number, epoch = epochOf(now)): string =>
  peppered(pepper, `self|${epoch}|${agentId}`);

export const sharedMailboxKey = (recipientToken: string): string => sha256Hex(recipientToken);

/** §7.4: "ref:" + peppered("block|" + scope + "|" + sender), scope from recipient id or shared token. */
export function senderBlockRef(
  pepper: string,
  sender: string,
  target: { recipientId?: string; recipientToken?: string; deliveryClass?: string },
): string {
  const rid = (target.recipientId ?? '').trim();
  const tok = (target.recipientToken ?? '').trim();
  let scope = '';
  if (rid) scope = `recipient|${rid}`;
  else if (target.deliveryClass === 'shared' && tok) scope = `shared|${sha256Hex(tok)}`;
  return 'ref:' + (scope ? peppered(pepper, `block|${scope}|${sender}`) : peppered(pepper, `block|${sender}`));
}

/** §7.7.2 / A.8: the deterministic sender token hash of a hydrated chain DM. */
export const hydrationSenderTokenHash = (eventId: string, nodeId: string): string =>
  sha256Hex(`hashchain-dm-sender|${eventId}|${nodeId}`);

export type ClaimType = 'requests' | 'self' | 'shared';
export interface MailboxClaim {
  type: string;
  token?: string;
}

/**
 * Agent → bound key per mailbox type ("<type>|<agent>" → SHA-256(token)). Node memory, not wire data; the node
 * uses a bounded implementation (protocol/mailbox-bindings.ts): losing a binding loses no mail, because a claim
 * always opens SHA-256(token) as well.
 */
export interface MailboxBindings {
  get(id: string): string | undefined;
  set(id: string, boundKey: string): unknown;
}

const bindingId = (type: string, agentId: string): string => `${type}|${agentId}`;

/**
 * §7.2: the mailbox keys a list of claims opens, de-duplicated in order. Refreshes `bindings` for
 * `requests`/`self` claims. `invalid` counts claims that opened nothing (metric `dm_claim_invalid`).
 */
export function claimKeys(
  pepper: string,
  agentId: string,
  claims: readonly MailboxClaim[],
  now: number,
  bindings: MailboxBindings,
): { keys: string[]; invalid: number } {
  const keys: string[] = [];
  let invalid = 0;
  const push = (k: string | undefined): void => {
    if (k && !keys.includes(k)) keys.push(k);
  };
  for (const claim of claims.slice(0, MAX_CLAIMS)) {
    const type = typeof claim?.type === 'string' ? claim.type.trim().toLowerCase() : '';
    const token = typeof claim?.token === 'string' ? claim.token.trim() : '';
    if (!token) {
      invalid++;
      continue;
    }
    if (type === 'shared') {
      push(sharedMailboxKey(token));
    } else if (type === 'requests' || type === 'self') {
      const id = bindingId(type, agentId);
      push(bindings.get(id));
      const bound = sha256Hex(token);
      push(bound);
      const epoch = epochOf(now);
      const keyFor = type === 'requests' ? requestMailboxKey : selfMailboxKey;
      push(keyFor(pepper, agentId, now, epoch));
      push(keyFor(pepper, agentId, now, epoch - 1));
      bindings.set(id, bound);
    } else {
      invalid++;
    }
  }
  return { keys, invalid };
}

/** "Mailbox key for delivery": the request key prefers the recipient's bound key (§7.2). */
export function deliveryMailboxKey(
  pepper: string,
  deliveryClass: 'request' | 'shared',
  target: { recipientId?: string; recipientToken?: string },
  now: number,
  bindings?: MailboxBindings,
): string {
  if (deliveryClass === 'shared') return sharedMailboxKey((target.recipientToken ?? '').trim());
  const rid = (target.recipientId ?? '').trim();
  return bindings?.get(bindingId('requests', rid)) ?? requestMailboxKey(pepper, rid, now);
}

/**
 * Keys a request mailbox of `recipientId` may currently live under (bound key, this and the previous
 * epoch) — used to find a message named by an ack (§10.1), where only the recipient id is known.
 */
export function requestMailboxCandidates(pepper: string, recipientId: string, now: number, bindings?: MailboxBindings): string[] {
  const e = epochOf(now);
  const out = [bindings?.get(bindingId('requests', recipientId)), requestMailboxKey(pepper, recipientId, now, e), requestMailboxKey(pepper, recipientId, now, e - 1)];
  return out.filter((k, i): k is string => !!k && out.indexOf(k) === i);
}
