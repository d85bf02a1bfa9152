// Serving sync, GET and POST /api/mesh/infonet/sync (§9.4, §9.5). Unauthenticated (rate-limited per client: the socket
// address over HTTP; on private listeners the HMAC-authenticated peer URL, else one shared bucket — see syncClient).
// What a caller sees depends on where the request arrived: bus, onion and RNS listeners carry private callers only; a
// plain HTTP caller is judged by socket address and forwarding headers (§9.5.2). Public callers get the redacted page (docs/public-sync-redaction.md).
import type { InboundPeerRequest, InboundPeerResponse } from '../ports/peer.js';
import { GENESIS_HASH, PROTOCOL_VERSION } from '../protocol/constants.js';
import type { ChainEvent } from '../protocol/event.js';
import { matchLocator } from '../protocol/locator.js';
import { SYNC_DEFAULT_LIMIT, SYNC_MAX_LIMIT, type PeerRouteSpec } from '../protocol/peer-routes.js';
import { includePrivateEvents } from '../protocol/private-caller.js';
import { redactPage } from '../protocol/public-redaction.js';
import type { PeerContext } from './context.js';
import type { PeerAuthResult } from '../protocol/peer-auth.js';
import { authenticate, rateLimited } from './preamble.js';
import { header, INVALID_JSON, parseJsonBody, refuse, syncReply, tooLarge } from './reply.js';
import { check, syncPostBody } from '../protocol/peer-schemas.js';
import { readAheadFor } from './sync-read-ahead.js';

function clampLimit(raw: unknown): number {
  const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isFinite(n)) return SYNC_DEFAULT_LIMIT;
  return Math.min(SYNC_MAX_LIMIT, Math.max(1, Math.trunc(n)));
}

function callerView(ctx: PeerContext, req: InboundPeerRequest): { includePrivate: boolean } {
  const allowClearnetSync = ctx.deps.settings.peers.allowClearnetSync;
  if (req.via !== 'http') return { includePrivate: !allowClearnetSync };
  return { includePrivate: includePrivateEvents({ remoteAddress: req.remoteAddress, headers: req.headers, allowClearnetSync }) };
}

/**
 * The §9.4 rate-limit client of a sync request, and the HMAC check when one was made. Plain HTTP: the socket
 * address. Private listeners (onion, RNS, bus) have no address to go by (every onion caller arrives from 127.0.0.1
 * through tor), and X-Peer-Url alone is whatever the caller wrote, so rotating it would buy fresh buckets: the
 * HMAC-authenticated peer URL when the request carries a valid X-Peer-HMAC, else one bucket that every
 * unauthenticated caller of that listener shares.
 */
function syncClient(ctx: PeerContext, req: InboundPeerRequest): { key: string; auth: PeerAuthResult | null } {
  if (req.via === 'http') return { key: `addr:${req.remoteAddress}`, auth: null };
  if (header(req.headers, 'x-peer-hmac') === undefined) return { key: `${req.via}:unauthenticated`, auth: null };
  const auth = authenticate(ctx, req);
  return { key: auth.ok ? `${req.via}:peer:${auth.peerUrl}` : `${req.via}:unauthenticated`, auth };
}

const wrongVersion = (): InboundPeerResponse => refuse(426, 'Unsupported protocol_version', { protocol_version: PROTOCOL_VERSION });

export async function syncPost(ctx: PeerContext, spec: PeerRouteSpec, req: InboundPeerRequest): Promise<InboundPeerResponse> {
  const { chain } = ctx.deps;
  if (req.body.length > spec.maxBytes) return tooLarge(spec);
  const client = syncClient(ctx, req);
  const rl = rateLimited(ctx, 'infonet_sync', client.key);
  if (rl) return rl;
  const parsed = parseJsonBody(req.body);
  if (!parsed.ok) return INVALID_JSON();
  const raw = parsed.value && typeof parsed.value === 'object' && !Array.isArray(parsed.value) ? parsed.value as Record<string, unknown> : {};
  const pv = raw.protocol_version;
  if (pv !== undefined && pv !== null && pv !== PROTOCOL_VERSION) return wrongVersion();
  const body = check(syncPostBody, raw);
  if (!body.ok) return refuse(200, body.reason);
  const { locator, expected_head: expected } = body.value;
  if (typeof expected === 'string' && expected !== '' && expected !== chain.head) {
    return refuse(409, 'head_hash mismatch', { head_hash: chain.head, expected_head: expected });
  }
  const limit = clampLimit(body.value.limit ?? req.query?.get('limit') ?? undefined);
  const view = callerView(ctx, req);
  // [extension] An authenticated private peer may ask for pages without §9.5.4, so it can ingest them.
  const auth = view.includePrivate && body.value.unredacted === true ? client.auth ?? authenticate(ctx, req) : null;
  if (auth?.ok) ctx.deps.onPeerContact?.(auth.peerUrl);
  const m = matchLocator(locator, (id) => chain.heightOf(id) ?? -1);
  const slice: ChainEvent[] = m.startIndex >= 0 ? await readAheadFor(chain).read(m.startIndex, limit) : [];
  const page = redactPage(slice, { includePrivate: view.includePrivate, unredacted: auth?.ok === true });
  return syncReply({
    ok: true, events: page.events, matched_hash: m.matchedHash, forked: m.forked, head_hash: chain.head,
    count: page.events.length, protocol_version: PROTOCOL_VERSION, links: page.links,
  });
}

export async function syncGet(ctx: PeerContext, req: InboundPeerRequest): Promise<InboundPeerResponse> {
  const { chain } = ctx.deps;
  const rl = rateLimited(ctx, 'infonet_sync', syncClient(ctx, req).key);
  if (rl) return rl;
  const q = req.query ?? new URLSearchParams();
  const pv = q.get('protocol_version');
  if (pv !== null && pv !== '' && pv !== PROTOCOL_VERSION) return wrongVersion();
  const expected = q.get('expected_head');
  if (expected && expected !== chain.head) return refuse(409, 'head_hash mismatch', { head_hash: chain.head, expected_head: expected });
  const after = q.get('after_hash') || GENESIS_HASH;
  const limit = clampLimit(q.get('limit') ?? undefined);
  const at = after === GENESIS_HASH ? -1 : chain.heightOf(after);
  const start = after === GENESIS_HASH ? 0 : at === undefined ? -1 : at + 1;
  const slice = start >= 0 ? await readAheadFor(chain).read(start, limit) : [];
  const page = redactPage(slice, callerView(ctx, req));
  return syncReply({
    ok: true, events: page.events, after_hash: after, count: page.events.length, protocol_version: PROTOCOL_VERSION, links: page.links,
  });
}
