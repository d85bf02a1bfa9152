// Pulling the chain from one peer (spec §9.3 client loop, `sync_from_peer`). Never throws: the answer is
// `{ok, error, forked, retryAfterS}` like the original's 4-tuple, plus the typed error (`cause`) a failed
// peer call surfaced as — RATE_LIMITED for 429, PEER_HTTP for other statuses (protocol/sync-backoff.ts) —
// so the scheduler (actors/sync-actor.ts) can honour Retry-After on either path.
//
// Bytes move through the peer port (ports/peer.ts) the composition root hands in: HTTP for loopback
// (and, when allowed, clearnet) peers, NATS requests for `nats://<node id>` peers, onion/RNS next. The §9.1
// policy is checked here before the port is asked, so a clearnet peer in private mode costs no connection.
import type { ChainPort } from '../ports/chain.js';
import type { PeerCallResponse as TransportResponse, PeerPort } from '../ports/peer.js';
import type { Clock } from '../protocol/clock.js';
import { GENESIS_HASH, PROTOCOL_VERSION } from '../protocol/constants.js';
import { ErrorCodes, InfonetError, isInfonetError } from '../protocol/errors.js';
import { locatorIndices } from '../protocol/locator.js';
import { signPeerRequest } from '../protocol/peer-auth.js';
import { normalizePeerUrl, transportKind } from '../protocol/peer-url.js';
import type { PeerSettings } from '../protocol/settings.js';
import { peerHttpError, peerRateLimitedError } from '../protocol/sync-backoff.js';
import { peerAllowed, privateTransportRequired } from '../protocol/peer-call.js';

export const SYNC_PAGE = 100;
export const SYNC_MAX_ROUNDS = 5;
/** §9.3.2: a local chain shorter than this is reset to genesis when the peer reports a fork. */
export const SMALL_FORK_RESET_BELOW = 20;

export interface SyncFromPeerResult {
  ok: boolean;
  error: string;
  forked: boolean;
  retryAfterS: number;
  /** The typed error behind a failure (RATE_LIMITED, PEER_HTTP, PRIVATE_TRANSPORT_REQUIRED, UNAVAILABLE, …). */
  cause?: InfonetError;
  /** Events accepted over all rounds. */
  accepted: number;
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
  /** Ingest freshness bound override (default: the chain's MESH_INGEST_EVENT_MAX_AGE_S). */
  maxAgeS?: number;
}

const result = (ok: boolean, error = '', forked = false, retryAfterS = 0, accepted = 0, cause?: InfonetError): SyncFromPeerResult =>
  ({ ok, error, forked, retryAfterS, accepted, ...(cause ? { cause } : {}) });

/** §9.3 locator of a chain actor: a handful of id reads, newest first, ending with genesis. */
export async function chainLocator(chain: ChainPort): Promise<string[]> {
  const ids = await Promise.all(locatorIndices(chain.length).map(async (i) => (await chain.readRange(i, 1))[0]?.event_id));
  return [...ids.filter((x): x is string => typeof x === 'string'), GENESIS_HASH];
}

function bodyText(r: TransportResponse): string {
  return Buffer.from(r.body).toString('utf8');
}

function jsonOf(r: TransportResponse): { ok: true; value: unknown } | { ok: false } {
  if (r.json !== undefined) return { ok: true, value: r.json };
  try {
    return { ok: true, value: JSON.parse(bodyText(r)) as unknown };
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

/** `sync_from_peer(peer, page=100, max_rounds=5)` (§9.3). */
export async function syncFromPeer(peerUrl: string, chain: ChainPort, opts: SyncClientOptions): Promise<SyncFromPeerResult> {
  const peer = normalizePeerUrl(peerUrl) || peerUrl;
  const page = opts.pageSize ?? SYNC_PAGE;
  const maxRounds = opts.maxRounds ?? SYNC_MAX_ROUNDS;
  if (!peerAllowed(peer, opts.settings.allowClearnetSync)) {
    const e = privateTransportRequired(peer);
    return result(false, e.reason, false, 0, 0, e);
  }
  const isBus = transportKind(peer) === 'bus';
  const signAs = normalizePeerUrl(isBus ? opts.busSelfUrl : opts.selfUrl);
  let accepted = 0;
  let resetDone = false;

  for (let round = 0; round < maxRounds;) {
    const req: Record<string, unknown> = { protocol_version: PROTOCOL_VERSION, locator: await chainLocator(chain), limit: page };
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
      return result(false, err.reason, false, 0, accepted, err);
    }
    const read = readAnswer(peer, answer);
    if (!read.ok) {
      const ra = typeof read.error.details?.retry_after_s === 'number' ? (read.error.details.retry_after_s as number) : 0;
      return result(false, read.error.reason, false, ra, accepted, read.error);
    }
    const resp = read.value;
    if (resp.forked === true) {
      if (chain.length < SMALL_FORK_RESET_BELOW && !resetDone) {
        // §9.3.2: a short local history the peer does not know is dropped and rebuilt from the peer.
        resetDone = true;
        await chain.resetToGenesis();
        continue;
      }
      return result(false, 'fork detected', true, 0, accepted);
    }
    const events = resp.events;
    if (!Array.isArray(events)) return result(false, 'peer sync events must be a list', false, 0, accepted);
    if (events.length === 0) return result(true, '', false, 0, accepted);

    const wasEmpty = chain.length === 0;
    const out = await chain.ingest(events, opts.maxAgeS);
    accepted += out.accepted;
    if (out.rejected.length > 0) {
      const reasons = out.rejected.map((r) => r.reason);
      let msg = `sync ingest rejected ${out.rejected.length} event(s): ${reasons.join(', ')}`;
      if (wasEmpty && reasonMentionsFreshness(reasons)) msg += EXPIRED_GENESIS_HINT;
      return result(false, msg, false, 0, accepted);
    }
    if (out.duplicates === events.length || events.length < page) return result(true, '', false, 0, accepted);
    round++;
  }
  return result(true, '', false, 0, accepted);
}
