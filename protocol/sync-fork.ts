// What a `forked` sync answer means, and what to do with local events a rebuild would drop (spec §9.3
// client loop item 2, [tightening]). The original reset any chain shorter than 20 events whenever a peer
// said `forked`, which is also what an EMPTY or lagging peer says (its locator match fell back to GENESIS):
// a node that appended while its peers were cut off wiped its own acknowledged events (issue 8 item 6).
import { GENESIS_HASH } from './constants.js';

/** §9.3.2 (original): only a local chain shorter than this is rebuilt from a peer that reports a fork. */
export const SMALL_FORK_RESET_BELOW = 20;

/**
 * - `linked`: the peer found a common point in our locator; ingest what it served.
 * - `behind`: the peer's head is GENESIS or an id in our chain — it lacks our newest events; never reset,
 *   the peer pulls (or is pushed to).
 * - `forked`: a real fork — the peer's head is unknown here.
 */
export type ForkVerdict = 'linked' | 'behind' | 'forked';

export interface ForkAnswer {
  forked?: unknown;
  head_hash?: unknown;
}

/** Classifies one sync answer. `hasId` says whether an event id is in the local chain. */
export function classifySyncAnswer(answer: ForkAnswer, hasId: (id: string) => boolean): ForkVerdict {
  if (answer.forked !== true) return 'linked';
  const head = answer.head_hash;
  // A peer that does not say where its head is gets the original's treatment: forked.
  if (typeof head !== 'string' || head === '') return 'forked';
  if (head === GENESIS_HASH || hasId(head)) return 'behind';
  return 'forked';
}

/** Bound on the peer chain fetched into memory for a rebuild (~1 KB per event). A longer peer chain is
 * rebuilt in part; own events are re-appended by the later sync that reaches the peer's head. */
export const REBUILD_FETCH_MAX_EVENTS = 5000;

/**
 * Whether a real fork may rebuild the local chain from the peer: the original's short-chain rule, applied to
 * the local events after the fork point (for a fork at genesis that is the whole chain, as in the original).
 */
export const mayRebuildFromPeer = (localTailLength: number): boolean => localTailLength < SMALL_FORK_RESET_BELOW;

export interface ChainSummary {
  length: number;
  head: string;
}

/** How many leading events two chains share (ids compared position by position): the fork point. */
export function commonPrefixLength(a: readonly string[], b: readonly string[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/**
 * Of two forked chains whose tails after the fork point are short, exactly one side may rebuild, or two nodes
 * that appended concurrently would each adopt the other's chain and fork again (ping-pong). Lengths are the
 * tails after the common prefix. The peer's tail wins when it is not short (the peer cannot rebuild itself),
 * longer, or equally long with the smaller head id; otherwise this node keeps its chain and the peer, applying
 * the same rule, rebuilds from it. `complete` = the whole peer chain was fetched.
 */
export function peerChainWins(peer: ChainSummary & { complete: boolean }, local: ChainSummary): boolean {
  if (!peer.complete || !mayRebuildFromPeer(peer.length)) return true;
  if (peer.length !== local.length) return peer.length > local.length;
  return peer.head < local.head;
}

/** The fields of a chain event this module needs (a wire-form ChainEvent satisfies it). */
export interface EventRef {
  event_id: string;
  node_id: string;
  signature: string;
  event_type: string;
}

/** Identity of an event independent of its chain position: its author and signature (§2.4 signs neither
 * prev_hash nor timestamp, so a re-linked event keeps both). */
export const signedIdentity = (e: Pick<EventRef, 'node_id' | 'signature'>): string => `${e.node_id}\u0000${e.signature}`;

export interface RebuildPlan<E extends EventRef> {
  /** Local events the peer chain does not hold, authored by a key this node holds: re-append on top. */
  reappend: E[];
  /** Local events of other authors the peer chain does not hold: keep aside, offer to later syncs. */
  keepAside: E[];
  /** Local events the peer chain already holds (same id, or the same signed event re-linked). */
  alreadyThere: number;
}

/**
 * Splits the local events a rebuild replaces (oldest first) into own events to re-append, other authors'
 * events to keep aside, and those the peer has anyway. Order is kept: re-appends go in original order so
 * per-author sequences stay increasing.
 */
export function planRebuild<E extends EventRef>(
  localTail: readonly E[],
  peerEvents: readonly Pick<EventRef, 'event_id' | 'node_id' | 'signature'>[],
  ownNodeIds: ReadonlySet<string>,
): RebuildPlan<E> {
  const ids = new Set(peerEvents.map((e) => e.event_id));
  const signed = new Set(peerEvents.map(signedIdentity));
  const plan: RebuildPlan<E> = { reappend: [], keepAside: [], alreadyThere: 0 };
  for (const e of localTail) {
    if (ids.has(e.event_id) || signed.has(signedIdentity(e))) plan.alreadyThere++;
    else if (ownNodeIds.has(e.node_id)) plan.reappend.push(e);
    else plan.keepAside.push(e);
  }
  return plan;
}

// ---- the kept-aside set ------------------------------------------------------------------------------

/** Hard bound on kept-aside events (an outsider's events can land in a short chain; the set must not grow
 * without limit). Beyond it the oldest entries are dropped — loudly (metric + warn), never silently. */
export const KEPT_ASIDE_MAX = 1000;

export interface KeptAsideEntry<E> {
  event: E;
  /** Authored by a key this node holds: re-append (re-linked) once the chain caught up with the peer. */
  own: boolean;
  /** Clock seconds when it was kept aside. */
  kept_at: number;
  /** Peer whose chain replaced it. */
  peer: string;
}

/** Adds entries (skipping ones already kept, by signed identity), bounded; returns the new list and how many
 * old entries the bound pushed out. */
export function mergeKeptAside<E extends EventRef>(
  current: readonly KeptAsideEntry<E>[],
  added: readonly KeptAsideEntry<E>[],
  max = KEPT_ASIDE_MAX,
): { entries: KeptAsideEntry<E>[]; overflow: number; added: number; dropped: KeptAsideEntry<E>[] } {
  const seen = new Set(current.map((k) => signedIdentity(k.event)));
  const merged = [...current];
  for (const a of added) {
    const id = signedIdentity(a.event);
    if (seen.has(id)) continue;
    seen.add(id);
    merged.push(a);
  }
  const overflow = Math.max(0, merged.length - max);
  return { entries: merged.slice(overflow), overflow, added: merged.length - current.length, dropped: merged.slice(0, overflow) };
}

export type OfferAction = 'present' | 'reappend' | 'ingest' | 'wait';

/**
 * What to do with one kept-aside entry now: `present` — the chain holds it (drop the entry); `reappend` —
 * own event, re-link it on top; `ingest` — another author's event whose prev_hash is our head (it fits as
 * is); `wait` — keep it for a later sync.
 */
export function offerAction<E extends EventRef & { prev_hash: string }>(
  entry: KeptAsideEntry<E>,
  chain: { head: string; hasId(id: string): boolean; hasSigned(signedId: string): boolean },
): OfferAction {
  const e = entry.event;
  if (chain.hasId(e.event_id) || chain.hasSigned(signedIdentity(e))) return 'present';
  if (entry.own) return 'reappend';
  return e.prev_hash === chain.head ? 'ingest' : 'wait';
}
