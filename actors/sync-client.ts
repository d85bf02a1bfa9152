// Pulling the chain from one peer (spec §9.3 client loop, `sync_from_peer`). Never throws: the answer is
// `{ok, error, forked, retryAfterS}` like the original's 4-tuple, plus the typed error (`cause`) a failed
// peer call surfaced as — RATE_LIMITED for 429, PEER_HTTP for other statuses (protocol/sync-backoff.ts) —
// so the scheduler (actors/sync-actor.ts) can honour Retry-After on either path.
//
// A `forked` answer is classified first (protocol/sync-fork.ts, §9.3 item 2 [tightening]): a peer that is
// merely behind (head GENESIS or an id we hold) is reported as `behind` and nothing local changes — the
// original reset short chains here and lost acknowledged events (issue 8 item 6). A real fork of a short
// chain is rebuilt from the peer without discarding anything (actors/sync-rebuild.ts): the peer's chain is
// fetched first, local events it lacks are kept aside durably, then reset + ingest + own events re-appended.
//
// Bytes move through the peer port (ports/peer.ts) the composition root hands in: HTTP for loopback
// (and, when allowed, clearnet) peers, NATS requests for `nats://<node id>` peers, onion/RNS next. The §9.1
// policy is checked here before the port is asked, so a clearnet peer in private mode costs no connection.
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { ChainPort } from '../ports/chain.js';
import type { PeerCallResponse as TransportResponse, PeerPort } from '../ports/peer.js';
import type { Clock } from '../protocol/clock.js';
import { GENESIS_HASH, PROTOCOL_VERSION } from '../protocol/constants.js';
import { ErrorCodes, InfonetError, isInfonetError } from '../protocol/errors.js';
import { eventToWireJson, type ChainEvent } from '../protocol/event.js';
import type { Identity } from '../protocol/identity.js';
import { locatorIndices } from '../protocol/locator.js';
import { signPeerRequest } from '../protocol/peer-auth.js';
import { normalizePeerUrl, transportKind } from '../protocol/peer-url.js';
import type { PeerSettings } from '../protocol/settings.js';
import { isPeerRateLimited, peerHttpError, peerRateLimitedError } from '../protocol/sync-backoff.js';
import { classifySyncAnswer, commonPrefixLength, mayRebuildFromPeer, peerChainWins, REBUILD_FETCH_MAX_EVENTS } from '../protocol/sync-fork.js';
import { peerAllowed, privateTransportRequired } from '../protocol/peer-call.js';
import { PEER_PUSH_MAX_BYTES, PEER_PUSH_MAX_EVENTS, SYNC_MAX_LIMIT } from '../protocol/peer-routes.js';
import { offerKeptAside, readTail, rebuildFromPeer, type KeptAside, type RebuildChainPort, type RebuildResult } from './sync-rebuild.js';
import { parseEventsJson } from '../protocol/lossless-json.js';

export { SMALL_FORK_RESET_BELOW } from '../protocol/sync-fork.js';
export const SYNC_PAGE = 100;
/** Pushes to a behind peer per sync call (of ≤ 50 events each); the peer's own pull does the rest. The inbound
 * peer-push limit is 30/min per client, so a few per cycle leave room for other pushers. */
export const PUSH_BEHIND_MAX_REQUESTS = 4;
export const SYNC_MAX_ROUNDS = 5;
/** Pages asked for ahead of the one being ingested (PagesAhead). */
export const SYNC_PREFETCH_PAGES = 4;
/**
 * `limit` of a page asked for ahead, by transport: the §9.4 server maximum (500) over HTTP, where an answer of 500
 * events of the largest wire size (a 4096-byte payload + the fixed fields, < 5 KiB) fits the client's 4 MiB answer
 * bound; ONION_READ_AHEAD_LIMIT over Tor, BUS_READ_AHEAD_LIMIT over the bus; the spec's page elsewhere (RNS links
 * carry small resources).
 * Fewer, bigger requests matter most against a deployed peer's limit of 600 sync requests a minute per client (§9.4).
 * Only the size of a request changes: a page of at least SYNC_PAGE events is still "full" (§9.3 item 6), and each
 * request is still one round.
 */
export function readAheadLimit(peer: string): number {
  const kind = transportKind(peer);
  if (kind === 'loopback' || kind === 'clearnet') return SYNC_MAX_LIMIT;
  if (kind === 'onion') return ONION_READ_AHEAD_LIMIT;
  return kind === 'bus' ? BUS_READ_AHEAD_LIMIT : SYNC_PAGE;
}
/**
 * Over Tor: half the §9.4 maximum. A page must arrive within MESH_SYNC_TIMEOUT_S (5 s) over whatever circuit there is,
 * and a timed-out page ends the cycle; 250 of the mixed chain's events are ~190 KB (~1.2 MB at the largest payloads).
 * Not measured on the public Tor network (none here); the private test network is as fast as loopback.
 */
export const ONION_READ_AHEAD_LIMIT = 250;
/**
 * Over the bus: an answer (events + their links, < 5 KiB an event at the largest payload) must fit NATS's 1 MiB
 * max_payload, and a page of the mixed chain's ~770-byte events should stay under the ~128 KiB above which V8 makes
 * every decoded string a large object (measured ~30× dearer per byte). 160 events: ≤ ~790 KB at worst, ~125 KB usually.
 * Alternating bus-only runs, 100 against 160: 5,413 / 4,930 / 5,565 / 5,950 against 5,221 / 5,447 / 5,635 / 5,795
 * events/s, both ~329 µs per event over all processes; under the deployed limit 160 carries 1.6× the events.
 */
export const BUS_READ_AHEAD_LIMIT = 160;
/**
 * A page asked for ahead that the peer refuses with 429 (its per-client sync limit, §9.4: 600 a minute) and a
 * Retry-After of at most READ_AHEAD_RETRY_AFTER_MAX_S is asked again after that wait, up to READ_AHEAD_RATE_WAIT_MAX_S
 * per page: a long catch-up then goes on at the peer's rate instead of ending the cycle in a §9.6 cooldown (120 s or
 * more) each time it outruns the limit. The first request of a cycle is never retried: its 429 ends the sync as
 * §9.6 says.
 */
export const READ_AHEAD_RETRY_AFTER_MAX_S = 5;
export const READ_AHEAD_RATE_WAIT_MAX_S = 30;
export const PEER_BEHIND = 'peer behind';
/** Both chains short and forked, ours wins (protocol/sync-fork.ts peerChainWins): the peer rebuilds from us. */
export const PEER_REBUILDS_FROM_US = 'peer forked; it rebuilds from this chain';

export interface SyncFromPeerResult {
  ok: boolean;
  error: string;
  forked: boolean;
  retryAfterS: number;
  /** The typed error behind a failure (RATE_LIMITED, PEER_HTTP, PRIVATE_TRANSPORT_REQUIRED, UNAVAILABLE, …). */
  cause?: InfonetError;
  /** Events accepted over all rounds. */
  accepted: number;
  /** `peer behind`: the peer lacks our newest events; nothing was pulled or reset, the peer pulls from us. */
  note?: string;
  /** A real fork of a short local chain was rebuilt from this peer. */
  rebuilt?: RebuildResult;
  /** Events pushed to a behind peer (§8.5 peer-push) in this call. */
  pushed?: number;
  /** The rounds ran out on full pages: the peer very likely has more (the scheduler runs the next cycle soon). */
  more?: boolean;
}

/** Anything that can carry one peer request (the node's TransportSet, or a single transport in tests). */
export type RequestSender = PeerPort;

export interface SyncClientOptions {
  transports: RequestSender;
  settings: PeerSettings;
  clock: Clock;
  /** URL this node signs HTTP sync requests as (MESH_PUBLIC_PEER_URL); '' = unsigned. */
  selfUrl?: string;
  /** URL this node signs bus sync requests as (`nats://<own node token>`). */
  busSelfUrl?: string;
  pageSize?: number;
  maxRounds?: number;
  /** Pages asked for ahead while one is ingested (default SYNC_PREFETCH_PAGES; 0 = one request at a time). */
  prefetchPages?: number;
  /** `limit` of the pages asked for ahead (default readAheadLimit(peer); never below the page size). */
  readAheadLimit?: number;
  /** Read-ahead carried between calls (the scheduler's): pages may then be asked for into the next call's rounds. */
  carry?: ReadAheadCarry;
  /** Ingest freshness bound override (default: the chain's MESH_INGEST_EVENT_MAX_AGE_S). */
  maxAgeS?: number;
  /** Durable kept-aside set. Without it a real fork is only reported (`fork detected`), never rebuilt. */
  kept?: KeptAside;
  /** The node identity: its events are re-appended after a rebuild (and re-signed if their sequence is taken). */
  identity?: Identity;
  /** Push our newer events to a behind peer when peer push is configured (default true). */
  pushBehind?: boolean;
  /** Bound on the peer chain fetched for a rebuild (default REBUILD_FETCH_MAX_EVENTS). */
  rebuildFetchMax?: number;
  logger?: Logger;
}

const result = (ok: boolean, error = '', forked = false, retryAfterS = 0, accepted = 0, cause?: InfonetError): SyncFromPeerResult =>
  ({ ok, error, forked, retryAfterS, accepted, ...(cause ? { cause } : {}) });

/**
 * §9.3 locator of a chain actor, newest first, ending with genesis: the consecutive newest ids in one range read,
 * the sparse older ones (one per doubling step) one read each.
 */
export async function chainLocator(chain: ChainPort): Promise<string[]> {
  const idx = locatorIndices(chain.length);
  // From the in-memory index when the chain has one (a cycle used to pay ~13 LevelDB range reads here).
  const known = idx.map((i) => chain.idAt?.(i));
  if (known.every((id) => id !== undefined)) return [...(known as string[]), GENESIS_HASH];
  let dense = 0;
  while (dense < idx.length && idx[dense] === idx[0] - dense) dense++;
  const [newest, older] = await Promise.all([
    dense ? chain.readRange(idx[dense - 1], dense) : Promise.resolve([]),
    Promise.all(idx.slice(dense).map(async (i) => (await chain.readRange(i, 1))[0]?.event_id)),
  ]);
  const ids = [...newest.map((e) => e.event_id).reverse(), ...older];
  return [...ids.filter((x): x is string => typeof x === 'string'), GENESIS_HASH];
}

function bodyText(r: TransportResponse): string {
  // A view, not Buffer.from(body): that copies a whole page (~77 KB) before decoding it.
  const b = r.body;
  return (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength)).toString('utf8');
}

function jsonOf(r: TransportResponse): { ok: true; value: unknown } | { ok: false } {
  // The answer's bytes when there are any (the bus hands on the peer's text too); decoded JSON only without them.
  if (r.body.length === 0) return r.json !== undefined ? { ok: true, value: r.json } : { ok: false };
  try {
    // parseEventsJson: served events keep payload float literals (5.0) for their ids (Appendix D).
    return { ok: true, value: parseEventsJson(bodyText(r)) };
  } catch {
    return { ok: false };
  }
}

/** The answer of one sync request as data, or the typed error it surfaces as (§9.6). */
function readAnswer(peer: string, r: TransportResponse): { ok: true; value: Record<string, unknown> } | { ok: false; error: InfonetError } {
  const retry = r.retryAfterS ?? 0;
  if (r.status === 429) return { ok: false, error: peerRateLimitedError(peer, retry, bodyText(r) || JSON.stringify(r.json ?? '')) };
  const parsed = jsonOf(r);
  if (r.status !== 200) {
    if (!parsed.ok) return { ok: false, error: new InfonetError(ErrorCodes.PEER_HTTP, `peer sync returned non-JSON response (${r.status})`, { status: r.status, retry_after_s: retry }) };
    const d = parsed.value && typeof parsed.value === 'object' ? (parsed.value as Record<string, unknown>).detail : undefined;
    return { ok: false, error: peerHttpError(r.status, typeof d === 'string' ? d : '', retry) };
  }
  if (!parsed.ok || !parsed.value || typeof parsed.value !== 'object' || Array.isArray(parsed.value)) {
    return { ok: false, error: new InfonetError(ErrorCodes.PEER_HTTP, `peer sync returned non-JSON response (${r.status})`, { status: r.status }) };
  }
  return { ok: true, value: parsed.value as Record<string, unknown> };
}

const reasonMentionsFreshness = (reasons: string[]): boolean => reasons.some((r) => r.includes('freshness window'));

export const EXPIRED_GENESIS_HINT =
  '; peer appears to be serving an expired genesis chain. Its oldest events are outside this node\'s ingest freshness window; '
  + 'to bootstrap from it anyway, restart with MESH_INGEST_EVENT_MAX_AGE_S=0.';

type Page = { ok: true; value: Record<string, unknown> } | { ok: false; result: SyncFromPeerResult };

/** One signed sync request (`POST /api/mesh/infonet/sync`) for `locator`. */
async function requestPage(peer: string, locator: string[], limit: number, opts: SyncClientOptions): Promise<Page> {
  const signAs = normalizePeerUrl(transportKind(peer) === 'bus' ? opts.busSelfUrl : opts.selfUrl);
  const req: Record<string, unknown> = { protocol_version: PROTOCOL_VERSION, locator, limit };
  let headers: Record<string, string> = {};
  if (signAs) {
    // Signed requests may ask for pages without §9.5.4 public redaction, so every event is ingestible.
    req.unredacted = true;
    try {
      headers = { ...signPeerRequest(signAs, JSON.stringify(req), opts.settings) };
    } catch {
      delete req.unredacted;
      headers = {};
    }
  }
  const body = Buffer.from(JSON.stringify(req), 'utf8');
  let answer: TransportResponse;
  try {
    answer = await opts.transports.send({ peer, route: 'infonet/sync', body, headers, timeoutMs: opts.settings.syncTimeoutS * 1000 });
  } catch (e) {
    const err = isInfonetError(e) ? e : new InfonetError(ErrorCodes.UNAVAILABLE, String((e as Error)?.message ?? e));
    return { ok: false, result: result(false, err.reason, false, 0, 0, err) };
  }
  const read = readAnswer(peer, answer);
  if (!read.ok) {
    const ra = typeof read.error.details?.retry_after_s === 'number' ? (read.error.details.retry_after_s as number) : 0;
    return { ok: false, result: result(false, read.error.reason, false, ra, 0, read.error) };
  }
  return read;
}

const isEventLike = (e: unknown): e is ChainEvent =>
  !!e && typeof e === 'object' && !Array.isArray(e)
  && typeof (e as ChainEvent).event_id === 'string' && typeof (e as ChainEvent).node_id === 'string' && typeof (e as ChainEvent).signature === 'string';

/**
 * The peer's chain from genesis, page by page, before anything local changes (so the rebuild's reset and
 * ingest do no network I/O in between). Bounded by `max`; `complete` = the peer's head was reached.
 */
async function fetchPeerChain(peer: string, page: number, max: number, opts: SyncClientOptions): Promise<{ ok: true; events: ChainEvent[]; complete: boolean } | { ok: false; result: SyncFromPeerResult }> {
  const events: ChainEvent[] = [];
  let locator = [GENESIS_HASH];
  while (events.length < max) {
    const limit = Math.min(page, max - events.length);
    const got = await requestPage(peer, locator, limit, opts);
    if (!got.ok) return got;
    const batch = got.value.events;
    if (got.value.forked === true) return { ok: false, result: result(false, 'peer chain changed during fork rebuild') };
    if (!Array.isArray(batch)) return { ok: false, result: result(false, 'peer sync events must be a list') };
    if (!batch.every(isEventLike)) return { ok: false, result: result(false, 'peer sync returned a malformed event') };
    events.push(...batch);
    if (batch.length < limit) return { ok: true, events, complete: true };
    locator = [batch[batch.length - 1].event_id, GENESIS_HASH];
  }
  return { ok: true, events, complete: false };
}

/**
 * Where the served page leaves our chain: the first new event (after any duplicates) links to an event we hold
 * that is not our head, so both chains grew after it (ingest refused it with `prev_hash does not match head`).
 * Returns that common event's id, or null.
 */
function divergencePoint(events: readonly unknown[], rejected: ReadonlyArray<{ index: number; reason: string }>, chain: ChainPort): string | null {
  const r = rejected[0];
  if (!r || !r.reason.includes('prev_hash does not match head')) return null;
  const e = events[r.index] as { prev_hash?: unknown } | undefined;
  if (!e || typeof e !== 'object' || typeof e.prev_hash !== 'string' || e.prev_hash === chain.head) return null;
  return e.prev_hash === GENESIS_HASH || chain.heightOf(e.prev_hash) !== undefined ? e.prev_hash : null;
}

/**
 * §9.3 item 2 (a): a behind peer pulls from us on its own cycle; with peer push configured (a peer secret and a
 * URL to sign as) we also push it the events after its head (§8.5 `POST /api/mesh/infonet/peer-push`, ≤ 50 per
 * request, HMAC over the exact body), so it catches up without waiting. Best effort: stops at the first refusal.
 */
async function pushToBehindPeer(peer: string, peerHead: unknown, chain: ChainPort, opts: SyncClientOptions): Promise<number> {
  const signAs = normalizePeerUrl(transportKind(peer) === 'bus' ? opts.busSelfUrl : opts.selfUrl);
  if (!signAs || typeof peerHead !== 'string') return 0;
  let from = peerHead === GENESIS_HASH ? 0 : (chain.heightOf(peerHead) ?? -2) + 1;
  if (from < 0) return 0;
  let pushed = 0;
  for (let i = 0; i < PUSH_BEHIND_MAX_REQUESTS && from < chain.length; i++) {
    const events = await chain.readRange(from, PEER_PUSH_MAX_EVENTS);
    if (events.length === 0) break;
    const text = `{"events":[${events.map(eventToWireJson).join(',')}]}`;
    if (Buffer.byteLength(text) > PEER_PUSH_MAX_BYTES) break;
    let headers: Record<string, string>;
    try {
      headers = { ...signPeerRequest(signAs, text, opts.settings) };
    } catch {
      return pushed; // no peer secret: push is not configured
    }
    try {
      const r = await opts.transports.send({ peer, route: 'infonet/peer-push', body: Buffer.from(text, 'utf8'), headers, timeoutMs: opts.settings.syncTimeoutS * 1000 });
      const body = r.status === 200 ? jsonOf(r) : { ok: false as const };
      const v = body.ok ? (body.value as { ok?: unknown; accepted?: unknown; rejected?: unknown }) : null;
      if (!v || v.ok !== true || typeof v.accepted !== 'number') break;
      pushed += v.accepted;
      if (Array.isArray(v.rejected) && v.rejected.length) break;
    } catch {
      break;
    }
    from += events.length;
  }
  if (pushed) opts.logger?.info({ peer, pushed }, 'pushed events to a behind peer');
  return pushed;
}

/**
 * Pipelined catch-up (issue 14): once a full page has arrived, the next page is asked for at once — locator
 * `[last served id, GENESIS]`, as the rebuild fetch does — while the current page is verified and ingested, and
 * each answer that is again a full page asks for the one after it, up to `depth` pages requested and not yet
 * taken, and `budget` requests in all (the rounds left). Every request is an ordinary §9.3/§9.4 request of
 * `page` events; only the order of waiting changes. Pages are taken strictly in order and handled exactly as a
 * page asked for with the chain's own locator (every event verified, linked and ingested; rejections and forks
 * end the pipeline); requests still in flight when the caller stops are awaited and their answers dropped.
 */
class PagesAhead {
  private readonly asked: Array<Promise<Page>> = [];
  /** Answers already here, by their promise (so a run of them can be taken without waiting). */
  private readonly arrived = new WeakMap<Promise<Page>, Page>();
  private issued = 0;
  private inFlight = false;
  private closed = false;

  constructor(
    private readonly peer: string,
    /** The id the next request starts after; null once an answer was not a full page of events. */
    private after: string | null,
    private budget: number,
    private readonly depth: number,
    /** A "full" page (§9.3 item 6): an answer with fewer events than this reached the peer's head. */
    private readonly page: number,
    /** `limit` of each request (≥ page). */
    private readonly ask: number,
    private readonly opts: SyncClientOptions,
  ) {
    this.pump();
  }

  private pump(): void {
    if (this.closed || this.inFlight || this.after === null || this.issued >= this.budget || this.asked.length >= this.depth) return;
    this.issued++;
    this.inFlight = true;
    const asked: Promise<Page> = this.fetch(this.after).then((got) => {
      this.inFlight = false;
      this.arrived.set(asked, got);
      const events = got.ok && got.value.forked !== true ? got.value.events : undefined;
      const last: unknown = Array.isArray(events) && events.length >= this.page ? events[events.length - 1] : undefined;
      this.after = isEventLike(last) ? last.event_id : null;
      this.pump();
      return got;
    });
    this.asked.push(asked);
  }

  /** One page asked for ahead; a short 429 is waited out and the same request sent again (READ_AHEAD_RETRY_AFTER_MAX_S). */
  private async fetch(after: string): Promise<Page> {
    let waited = 0;
    for (;;) {
      const got = await requestPage(this.peer, [after, GENESIS_HASH], this.ask, this.opts);
      if (got.ok || this.closed || !isPeerRateLimited(got.result.cause)) return got;
      const wait = Math.max(1, got.result.retryAfterS);
      if (wait > READ_AHEAD_RETRY_AFTER_MAX_S || waited + wait > READ_AHEAD_RATE_WAIT_MAX_S) return got;
      await delay(wait * 1000, undefined, { ref: false });
      waited += wait;
      if (this.closed) return got;
    }
  }

  /**
   * The next page's events when its answer is already here and is a plain page of events (ok, not forked, a
   * non-empty list); anything else stays queued for next() and the usual handling.
   */
  takeArrived(): unknown[] | null {
    const head = this.asked[0];
    const got = head && this.arrived.get(head);
    if (!got || !got.ok || got.value.forked === true || !Array.isArray(got.value.events) || got.value.events.length === 0) return null;
    this.asked.shift();
    this.pump();
    return got.value.events as unknown[];
  }

  /** The next page in order (possibly still on its way), or null when nothing more was asked for. */
  next(): Promise<Page> | null {
    const p = this.asked.shift();
    this.pump();
    return p ?? this.asked.shift() ?? null;
  }

  /** `n` more requests may be issued (the next cycle's rounds, when this read-ahead is carried over to it). */
  allow(n: number): void {
    this.budget += n;
    this.pump();
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.asked.splice(0));
  }
}

/**
 * The read-ahead handed from one sync call to the next (the scheduler keeps one): a call whose rounds ran out on full
 * pages leaves its pages in flight here, asked for after its last event, and the next call to the same peer takes
 * them as its first rounds when that event is still the chain's head — so a catch-up does not stop between cycles
 * for a locator request while nothing is ingested. Anything else (another peer, a head that moved) drops them.
 */
export interface ReadAheadCarry {
  held: { peer: string; after: string; pages: PagesAhead } | null;
}

export const newReadAheadCarry = (): ReadAheadCarry => ({ held: null });

/** Drops what a carry holds (its requests in flight are awaited, their answers unused). */
export async function dropCarry(carry: ReadAheadCarry): Promise<void> {
  const h = carry.held;
  carry.held = null;
  await h?.pages.close();
}

/** One ingest batch in flight (one or more consecutive served pages). */
interface Ingesting {
  batch: unknown[];
  /** The batch's last served page: shorter than `page` = the peer's head was reached. */
  lastPage: unknown[];
  wasEmpty: boolean;
  headHash: unknown;
  out: Promise<{ accepted: number; duplicates: number; rejected: Array<{ index: number; reason: string }> }>;
}

/** `sync_from_peer(peer, page=100, max_rounds=5)` (§9.3). */
export async function syncFromPeer(peerUrl: string, chain: RebuildChainPort, opts: SyncClientOptions): Promise<SyncFromPeerResult> {
  const peer = normalizePeerUrl(peerUrl) || peerUrl;
  const page = opts.pageSize ?? SYNC_PAGE;
  const maxRounds = opts.maxRounds ?? SYNC_MAX_ROUNDS;
  if (!peerAllowed(peer, opts.settings.allowClearnetSync)) {
    const e = privateTransportRequired(peer);
    return result(false, e.reason, false, 0, 0, e);
  }
  let accepted = 0;
  let rebuilt: RebuildResult | undefined;
  const withTotals = (r: SyncFromPeerResult): SyncFromPeerResult => ({ ...r, accepted: r.accepted + accepted, ...(rebuilt ? { rebuilt } : {}) });
  // Reached the peer's head: kept-aside events (own ones to re-append, others that now fit) are offered.
  const caughtUp = async (note?: string): Promise<SyncFromPeerResult> => {
    if (opts.kept && opts.kept.entries().length) await offerKeptAside(chain, opts.kept, opts.identity, opts.logger);
    return withTotals({ ...result(true), ...(note ? { note } : {}) });
  };

  /**
   * A real fork: rebuild from the peer when our events after the fork point are few (< 20, the original's
   * short-chain rule applied to the diverging tail) and the peer's side wins; else report. null = keep pulling.
   * `ancestor` is the fork point when the page showed it (divergence after a common event); for a `forked` flag
   * it is found by comparing the fetched peer chain with ours.
   */
  const onFork = async (peerHead: unknown, ancestor?: string): Promise<SyncFromPeerResult | null> => {
    const detected = (why: string): SyncFromPeerResult => {
      opts.logger?.warn({ peer, local_length: chain.length, peer_head: peerHead, ancestor, why }, 'sync fork detected: local chain left unchanged');
      return withTotals(result(false, 'fork detected', true, 0));
    };
    const maxFetch = opts.rebuildFetchMax ?? REBUILD_FETCH_MAX_EVENTS;
    if (rebuilt || !opts.kept) return detected(rebuilt ? 'already rebuilt in this sync' : 'no kept-aside store');
    if (chain.length > maxFetch) return detected('local chain longer than the rebuild bound');
    if (ancestor !== undefined) {
      const tail = chain.length - ((ancestor === GENESIS_HASH ? -1 : chain.heightOf(ancestor) ?? -1) + 1);
      if (!mayRebuildFromPeer(tail)) return detected(`${tail} local events after the fork point`);
    }
    const fetched = await fetchPeerChain(peer, page, maxFetch, opts);
    if (!fetched.ok) return withTotals(fetched.result);
    if (fetched.events.length === 0) return detected('peer served no chain');
    const localIds = (await readTail(chain)).map((e) => e.event_id);
    const shared = commonPrefixLength(localIds, fetched.events.map((e) => e.event_id));
    const localTail = localIds.length - shared;
    if (!mayRebuildFromPeer(localTail)) return detected(`${localTail} local events after the fork point`);
    const head = fetched.events[fetched.events.length - 1].event_id;
    if (!peerChainWins({ length: fetched.events.length - shared, head, complete: fetched.complete }, { length: localTail, head: chain.head })) {
      opts.logger?.warn({ peer, local_tail: localTail, peer_tail: fetched.events.length - shared, shared }, 'sync fork: this side wins; the peer rebuilds from it');
      return caughtUp(PEER_REBUILDS_FROM_US);
    }
    try {
      rebuilt = await rebuildFromPeer({
        peer, chain, kept: opts.kept, peerEvents: fetched.events, complete: fetched.complete,
        ownNodeIds: new Set(opts.identity ? [opts.identity.nodeId] : []), ...(opts.identity ? { identity: opts.identity } : {}),
        now: opts.clock(), ...(opts.logger ? { logger: opts.logger } : {}),
      });
    } catch (e) {
      // e.g. an append moved the head meanwhile: nothing changed, the next cycle tries again.
      const err = isInfonetError(e) ? e : new InfonetError(ErrorCodes.INTERNAL, String((e as Error)?.message ?? e));
      return withTotals(result(false, err.reason, false, 0, 0, err));
    }
    accepted += rebuilt.accepted;
    if (rebuilt.rejected.length > 0) {
      const reasons = rebuilt.rejected.map((r) => r.reason);
      return withTotals(result(false, `fork rebuild refused, previous chain kept: peer chain rejected ${reasons.length} event(s): ${reasons.join(', ')}`));
    }
    return fetched.complete ? withTotals(result(true)) : null;
  };

  // Pages requested ahead while the current one is verified and ingested (null until a full page arrives), or the
  // ones the previous call left for this one when they start right after our head.
  let ahead: PagesAhead | null = null;
  const held = opts.carry?.held;
  if (held) {
    opts.carry!.held = null;
    if (held.peer === peer && held.after === chain.head && maxRounds > 0) {
      ahead = held.pages;
      ahead.allow(maxRounds);
    } else {
      await held.pages.close();
    }
  }
  // The batch being ingested while the next page is awaited: its outcome is judged once the next batch is queued
  // behind it (the chain actor runs them in order), so the next batch's signature checks overlap its write.
  let ingesting: Ingesting | null = null;
  const dropAhead = async (): Promise<void> => {
    const a = ahead;
    ahead = null;
    await a?.close();
  };
  /** Waits for the batch queued after the judged one (if any); its events only count when they were accepted. */
  const finishQueued = async (): Promise<void> => {
    const q = ingesting;
    ingesting = null;
    if (q) accepted += (await q.out).accepted;
  };
  /**
   * §9.3 items 5–6 for one ingested batch: a result ends the sync; `retry` = a fork found at the batch was
   * rebuilt and pulling goes on from the new chain; null = go on.
   */
  const judge = async (ing: Ingesting): Promise<SyncFromPeerResult | 'retry' | null> => {
    const out = await ing.out;
    accepted += out.accepted;
    const ancestor = out.accepted === 0 ? divergencePoint(ing.batch, out.rejected, chain) : null;
    if (ancestor !== null) {
      // Both sides appended after a common event: the fork the flag reports at genesis (§9.3), here found by the
      // first new served event linking to an older event of ours. Same handling.
      await finishQueued();
      await dropAhead();
      return (await onFork(ing.headHash, ancestor)) ?? 'retry';
    }
    if (out.rejected.length > 0) {
      // Every later event links to a rejected one, so a batch queued behind this one accepted nothing.
      await finishQueued();
      const reasons = out.rejected.map((r) => r.reason);
      let msg = `sync ingest rejected ${out.rejected.length} event(s): ${reasons.join(', ')}`;
      if (ing.wasEmpty && reasonMentionsFreshness(reasons)) msg += EXPIRED_GENESIS_HINT;
      return withTotals(result(false, msg));
    }
    if (out.duplicates === ing.batch.length || ing.lastPage.length < page) {
      await finishQueued();
      return caughtUp();
    }
    return null;
  };
  /** Judges the batch in flight, if any, before a page that is not a plain continuation is handled. */
  const settle = async (): Promise<SyncFromPeerResult | 'retry' | null> => {
    const ing = ingesting;
    ingesting = null;
    return ing ? judge(ing) : null;
  };
  try {
    for (let round = 0; round < maxRounds;) {
      const fromAhead = ahead?.next() ?? null;
      // A request with the chain's own locator, or a page that is not a plain continuation: judge the batch in
      // flight first (the locator must include it; its outcome may end the sync).
      if (!fromAhead) {
        const v = await settle();
        if (v === 'retry') { round++; continue; }
        if (v) return v;
      }
      const got = await (fromAhead ?? requestPage(peer, await chainLocator(chain), page, opts));
      const plain = got.ok && got.value.forked !== true && Array.isArray(got.value.events) && got.value.events.length > 0;
      if (!plain) {
        const v = await settle();
        if (v === 'retry') { round++; continue; }
        if (v) return v;
      }
      if (!got.ok) return withTotals(got.result);
      const resp = got.value;
      if (fromAhead && resp.forked === true) {
        // The peer no longer knows the id the prefetch started after (its chain changed): ask again with our
        // own locator (the usual §9.3 request), which sees whatever the peer has now.
        await dropAhead();
        round++;
        continue;
      }
      const verdict = classifySyncAnswer(resp, (id) => chain.heightOf(id) !== undefined);
      const behind = async (): Promise<SyncFromPeerResult> => {
        const pushed = opts.pushBehind === false ? 0 : await pushToBehindPeer(peer, resp.head_hash, chain, opts);
        return { ...(await caughtUp(PEER_BEHIND)), ...(pushed ? { pushed } : {}) };
      };
      if (verdict === 'behind') return behind();
      if (verdict === 'forked') {
        const r = await onFork(resp.head_hash);
        if (r) return r;
        round++;
        continue;
      }
      const events = resp.events;
      if (!Array.isArray(events)) return withTotals(result(false, 'peer sync events must be a list'));
      if (events.length === 0) {
        // Nothing new, and the peer's head is an older event of ours: it is behind (without a fork flag).
        const h = resp.head_hash;
        return typeof h === 'string' && h !== chain.head && chain.heightOf(h) !== undefined ? behind() : caughtUp();
      }

      // A full page: the next ones are asked for now, while this one is verified and ingested.
      const last = events[events.length - 1] as unknown;
      if (!ahead && events.length >= page && round + 1 < maxRounds && isEventLike(last)) {
        const ask = Math.max(page, opts.readAheadLimit ?? readAheadLimit(peer));
        const depth = opts.prefetchPages ?? SYNC_PREFETCH_PAGES;
        // With a carry, up to `depth` requests run on into the next call's rounds.
        ahead = new PagesAhead(peer, last.event_id, maxRounds - round - 1 + (opts.carry ? depth : 0), depth, page, ask, opts);
      }
      // Pages that arrived meanwhile continue this one (each starts after the previous page's last id): one
      // ingest batch, as if the rounds had been taken one by one (a rejection stops the batch at the same event).
      let batch: unknown[] = events;
      let pages = 1;
      let lastPage: unknown[] = events;
      for (let more: unknown[] | null; lastPage.length >= page && round + pages < maxRounds && (more = ahead?.takeArrived() ?? null);) {
        batch = batch.concat(more);
        lastPage = more;
        pages++;
      }
      const wasEmpty: boolean = chain.length === 0 && !ingesting;
      const out = chain.ingest(batch, opts.maxAgeS);
      out.catch(() => undefined); // awaited in judge(); a failed chain must not be an unhandled rejection meanwhile
      const previous = ingesting;
      ingesting = { batch, lastPage, wasEmpty, headHash: resp.head_hash, out };
      round += pages;
      if (previous) {
        const v = await judge(previous);
        if (v === 'retry') continue;
        if (v) return v;
      }
    }
    const v = await settle();
    if (v && v !== 'retry') return v;
    // The rounds ran out on full pages, every batch accepted: what is asked for ahead goes on to the next call.
    if (opts.carry && ahead && v === null) {
      opts.carry.held = { peer, after: chain.head, pages: ahead };
      ahead = null;
    }
  } finally {
    await dropAhead();
    await ingesting?.out.catch(() => undefined);
  }
  return { ...withTotals(result(true)), more: true };
}
