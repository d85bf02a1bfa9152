// Rebuilding a short forked chain from a peer without losing anything (spec §9.3 client loop item 2,
// [tightening]; issue 8 item 6). The original reset a chain of < 20 events to genesis and re-pulled the
// peer's chain: every local event the peer lacked was gone. Here:
//   1. the local events the peer chain lacks are written, fsync'd, to the kept-aside set BEFORE the reset
//      (LevelDB sublevel `sync-kept-aside` in the data directory, through the group committer), so a crash
//      anywhere after that point loses nothing — the next successful sync offers them again;
//   2. reset + ingest the peer's chain (already fetched) as one exclusive chain operation
//      (ChainActor.rebuildFrom), so no local append lands on the empty chain in between;
//   3. `offerKeptAside`: this node's own events are re-appended on top (their signatures cover neither
//      prev_hash nor timestamp, so they re-link and pass every append rule again), other authors' events
//      are ingested once they fit (prev_hash = head) and otherwise wait, bounded, counted, never dropped
//      silently.
// Re-append goes through the type's own append route (appendPublic / appendGate / appendDm); an own event
// whose original sequence is no longer free (the DM domain survives a reset, §3.2.4) is signed again at the
// next sequence with the node key — same author, same payload.
import type { Logger } from 'pino';
import type { ChainIngestResult, ChainPort } from '../ports/chain.js';
import type { AppendInput } from '../protocol/append-rules.js';
import { ErrorCodes, isInfonetError } from '../protocol/errors.js';
import type { ChainEvent } from '../protocol/event.js';
import type { Identity } from '../protocol/identity.js';
import {
  mergeKeptAside, offerAction, planRebuild, signedIdentity, type KeptAsideEntry,
} from '../protocol/sync-fork.js';
import { sublevel, type Db, type Sublevel } from '../store/db.js';
import type { GroupCommitter } from '../store/group-commit.js';

/** What a rebuild needs from the chain: the port plus the three append routes and local signing. */
export interface RebuildChainPort extends ChainPort {
  appendPublic(input: AppendInput): Promise<ChainEvent>;
  appendGate(input: AppendInput): Promise<ChainEvent>;
  appendDm(input: AppendInput): Promise<ChainEvent>;
  appendLocal(id: Identity, eventType: string, payload: Record<string, unknown>): Promise<ChainEvent>;
  /** Reset + ingest as one exclusive, all-or-nothing chain operation (ChainActor.rebuildFrom); without it, two steps. */
  rebuildFrom?(events: readonly unknown[], expectedHead?: string): Promise<ChainIngestResult>;
}

export interface KeptAsideMetrics {
  /** Entries waiting now (own events not yet re-appended + other authors' events that do not fit yet). */
  kept_aside: number;
  kept_aside_total: number;
  reappended_total: number;
  reingested_total: number;
  /** Entries pushed out by the KEPT_ASIDE_MAX bound (each one logged at warn). */
  kept_aside_overflow_total: number;
  rebuilds_total: number;
}

const ENTRIES_KEY = 'entries';
const SCAN_PAGE = 1000;

/** The durable kept-aside set (one LevelDB value; rarely written, bounded by KEPT_ASIDE_MAX). */
export class KeptAside {
  readonly metrics: KeptAsideMetrics;
  private constructor(
    private readonly store: Sublevel,
    private readonly committer: GroupCommitter,
    private list: KeptAsideEntry<ChainEvent>[],
  ) {
    this.metrics = {
      kept_aside: list.length, kept_aside_total: 0, reappended_total: 0, reingested_total: 0, kept_aside_overflow_total: 0, rebuilds_total: 0,
    };
  }

  static async open(db: Db, committer: GroupCommitter): Promise<KeptAside> {
    const store = sublevel(db, 'sync-kept-aside');
    const saved = (await store.get(ENTRIES_KEY)) as KeptAsideEntry<ChainEvent>[] | undefined;
    return new KeptAside(store, committer, Array.isArray(saved) ? saved : []);
  }

  entries(): readonly KeptAsideEntry<ChainEvent>[] {
    return this.list;
  }

  /** Adds entries and resolves once they are on disk. Returns the entries the bound pushed out. */
  async add(added: KeptAsideEntry<ChainEvent>[]): Promise<KeptAsideEntry<ChainEvent>[]> {
    const merged = mergeKeptAside(this.list, added);
    await this.save(merged.entries);
    this.metrics.kept_aside_total += merged.added;
    this.metrics.kept_aside_overflow_total += merged.overflow;
    return merged.dropped;
  }

  async save(entries: KeptAsideEntry<ChainEvent>[]): Promise<void> {
    await this.committer.write([{ type: 'put', key: ENTRIES_KEY, value: entries, sublevel: this.store }]);
    this.list = entries;
    this.metrics.kept_aside = entries.length;
  }
}

/** Reads the local chain from `from` to the head (a short chain: the caller checked the length). */
export async function readTail(chain: ChainPort, from = 0): Promise<ChainEvent[]> {
  const out: ChainEvent[] = [];
  for (let i = from; i < chain.length; i += SCAN_PAGE) out.push(...(await chain.readRange(i, SCAN_PAGE)));
  return out;
}

async function signedIdsOf(chain: ChainPort): Promise<Set<string>> {
  const ids = new Set<string>();
  for (let i = 0; i < chain.length; i += SCAN_PAGE) for (const e of await chain.readRange(i, SCAN_PAGE)) ids.add(signedIdentity(e));
  return ids;
}

// No timestamp: the re-linked event is stamped now (the signature does not cover it), so peers whose ingest
// freshness window (§3.4) the original time has left can still take it.
const inputOf = (e: ChainEvent): AppendInput => ({
  event_type: e.event_type, node_id: e.node_id, payload: e.payload, signature: e.signature, sequence: e.sequence,
  public_key: e.public_key, public_key_algo: e.public_key_algo, protocol_version: e.protocol_version,
});

/** Re-links one own event on top of the chain; signs it again at the next sequence when the old one is taken. */
export async function reappendOwn(chain: RebuildChainPort, e: ChainEvent, identity: Identity | undefined): Promise<ChainEvent> {
  const input = inputOf(e);
  try {
    if (e.event_type === 'gate_message') return await chain.appendGate(input);
    if (e.event_type === 'dm_message') return await chain.appendDm(input);
    return await chain.appendPublic(input);
  } catch (err) {
    if (isInfonetError(err) && err.code === ErrorCodes.REPLAY && identity && identity.nodeId === e.node_id) {
      return chain.appendLocal(identity, e.event_type, e.payload as Record<string, unknown>);
    }
    throw err;
  }
}

export interface OfferResult {
  reappended: number;
  reingested: number;
  resolved: number;
  waiting: number;
  failures: string[];
}

/**
 * Offers every kept-aside entry to the chain (after a sync that reached the peer's head, or right after a
 * rebuild): own events are re-appended, others ingested when they fit, entries the chain holds are dropped.
 * Whatever cannot go in yet stays (durably). Entries are removed only after the chain write is durable.
 */
export async function offerKeptAside(
  chain: RebuildChainPort, kept: KeptAside, identity: Identity | undefined, logger?: Logger,
): Promise<OfferResult> {
  const res: OfferResult = { reappended: 0, reingested: 0, resolved: 0, waiting: 0, failures: [] };
  if (kept.entries().length === 0) return res;
  const signed = await signedIdsOf(chain);
  const view = { get head() { return chain.head; }, hasId: (id: string) => chain.heightOf(id) !== undefined, hasSigned: (s: string) => signed.has(s) };
  const remaining: KeptAsideEntry<ChainEvent>[] = [];
  for (const entry of kept.entries()) {
    const action = offerAction(entry, view);
    try {
      if (action === 'present') {
        res.resolved++;
        continue;
      }
      if (action === 'reappend') {
        const e = await reappendOwn(chain, entry.event, identity);
        signed.add(signedIdentity(e));
        res.reappended++;
        continue;
      }
      if (action === 'ingest') {
        const out = await chain.ingest([entry.event]);
        if (out.accepted === 1 || out.duplicates === 1) {
          res.reingested += out.accepted;
          signed.add(signedIdentity(entry.event));
          continue;
        }
        res.failures.push(out.rejected[0]?.reason ?? 'not ingested');
      }
    } catch (e) {
      res.failures.push(isInfonetError(e) ? e.reason : String((e as Error)?.message ?? e));
    }
    remaining.push(entry);
  }
  res.waiting = remaining.length;
  if (remaining.length !== kept.entries().length) await kept.save(remaining);
  kept.metrics.reappended_total += res.reappended;
  kept.metrics.reingested_total += res.reingested;
  if (res.reappended || res.reingested || res.failures.length) {
    logger?.warn({ reappended: res.reappended, reingested: res.reingested, already_present: res.resolved, still_kept_aside: res.waiting, failures: res.failures.slice(0, 5) }, 'kept-aside events offered to the chain');
  }
  return res;
}

export interface RebuildInput {
  peer: string;
  chain: RebuildChainPort;
  kept: KeptAside;
  /** The peer's chain from genesis, fetched before anything local changes. */
  peerEvents: ChainEvent[];
  /** The peer chain was fetched to its head (not cut by the fetch bound): own events may be re-appended now. */
  complete: boolean;
  ownNodeIds: ReadonlySet<string>;
  identity?: Identity;
  now: number;
  logger?: Logger;
}

export interface RebuildResult {
  accepted: number;
  rejected: Array<{ index: number; reason: string }>;
  reappended: number;
  keptAside: number;
  alreadyThere: number;
}

/** Steps 1–3 above for a real fork of a short local chain whose common ancestor is genesis. */
export async function rebuildFromPeer(input: RebuildInput): Promise<RebuildResult> {
  const { chain, kept, peer, logger } = input;
  const headRead = chain.head;
  const localTail = await readTail(chain);
  const plan = planRebuild(localTail, input.peerEvents, input.ownNodeIds);
  // 1. durable BEFORE the reset: every local event the peer chain lacks, own ones flagged for re-append.
  const entries: KeptAsideEntry<ChainEvent>[] = [
    ...localTail.filter((e) => plan.reappend.includes(e) || plan.keepAside.includes(e))
      .map((event) => ({ event, own: plan.reappend.includes(event), kept_at: input.now, peer })),
  ];
  const pushedOut = await kept.add(entries);
  for (const p of pushedOut) logger?.warn({ peer, event_id: p.event.event_id, author: p.event.node_id }, 'kept-aside set full: oldest kept-aside event dropped');
  kept.metrics.rebuilds_total++;
  logger?.warn({
    peer, local_events: localTail.length, peer_events: input.peerEvents.length, own_to_reappend: plan.reappend.length,
    others_kept_aside: plan.keepAside.length, already_on_peer: plan.alreadyThere,
  }, 'sync fork: rebuilding the short local chain from the peer (nothing is discarded)');
  // 2. reset and ingest the fetched chain — one exclusive chain operation where the chain offers it.
  let out: ChainIngestResult;
  if (chain.rebuildFrom) {
    // Refused (nothing changed) if an append landed after the tail was read and kept aside; a rejected peer
    // event puts the previous chain back.
    out = await chain.rebuildFrom(input.peerEvents, headRead);
  } else {
    await chain.resetToGenesis();
    out = await chain.ingest(input.peerEvents, 0); // a fork application: no freshness bound (§3.4)
  }
  // 3. own events back on top. A peer chain cut by the fetch bound is not the peer's head yet: re-appending
  // there would fork again, so own events wait for the sync that reaches the head. After a rejected rebuild
  // (previous chain restored) the entries resolve as present.
  const reappended = input.complete || out.rejected.length ? (await offerKeptAside(chain, kept, input.identity, logger)).reappended : 0;
  return { accepted: out.accepted, rejected: out.rejected, reappended, keptAside: plan.keepAside.length, alreadyThere: plan.alreadyThere };
}
