// The inbound peer endpoints (spec §8.4, §8.5, §9.4, §10.1, §10.2) as transport-agnostic handlers:
// a request is `{method, path, query, body bytes, headers, remoteAddress, transport}`, the answer
// `{status, json, body, headers}` where `body` is the exact JSON text to send (sync pages are written
// with eventToWireJson so legacy integer timestamps stay integer literals). transports/http-server.ts
// and transports/bus-peer-server.ts only move bytes to and from these handlers.
//
// Rate limits are per client: for the HMAC-authenticated routes the client is the authenticated peer
// URL (behind a Tor hidden service every peer arrives from 127.0.0.1, so the socket address would put
// the whole fleet in one bucket); for sync, which is unauthenticated, it is the socket address.
import type { Logger } from 'pino';
import type { ChainActor } from '../actors/chain-actor.js';
import type { AckDescriptor, MailboxRegistry } from '../actors/mailbox-registry.js';
import type { Clock } from '../protocol/clock.js';
import { GENESIS_HASH, PROTOCOL_VERSION } from '../protocol/constants.js';
import { isInfonetError } from '../protocol/errors.js';
import type { ChainEvent } from '../protocol/event.js';
import { matchLocator } from '../protocol/locator.js';
import { PEER_AUTH_FAILED, verifyPeerRequest } from '../protocol/peer-auth.js';
import { parsePeerList } from '../protocol/peer-url.js';
import { includePrivateEvents } from '../protocol/private-caller.js';
import { redactPage, servedEventToWireJson, type ServedEvent } from '../protocol/public-redaction.js';
import type { Settings } from '../protocol/settings.js';
import { RateLimiter } from './rate-limit.js';

export type PeerRouteName = 'dm_replicate_envelope' | 'dm_replicate_envelopes' | 'infonet_peer_push' | 'infonet_sync' | 'dm_ack' | 'dm_pull';

export interface PeerRouteSpec {
  method: 'GET' | 'POST';
  path: string;
  /** Bus subject token: requests arrive on `infonet.<node>.peer.<name>` (transports/bus-peer-server.ts). */
  name: PeerRouteName;
  /** Bodies larger than this are refused with 413 before anything else happens. */
  maxBytes: number;
}

export const REPLICATE_MAX_BYTES = 65_536;
/** [extension] Batch replicate route (docs/dm-relay.md): ≤ 512 KiB body, ≤ 64 envelopes. */
export const REPLICATE_BATCH_MAX_BYTES = 524_288;
export const REPLICATE_BATCH_MAX_ITEMS = 64;
export const PEER_PUSH_MAX_BYTES = 524_288;
export const PEER_PUSH_MAX_EVENTS = 50;
export const ACK_MAX_BYTES = 65_536;
export const ACK_MAX_ITEMS = 100;
export const PULL_MAX_BYTES = 65_536;
export const PULL_MAX_MAILBOXES = 32;
/** §10.2: one pull answer carries at most this many envelopes (one full shared mailbox). */
export const PULL_MAX_ENVELOPES = 48;
export const SYNC_MAX_BYTES = 65_536;
export const SYNC_DEFAULT_LIMIT = 100;
export const SYNC_MAX_LIMIT = 500;

export const PEER_ROUTES: readonly PeerRouteSpec[] = [
  { method: 'POST', path: '/api/mesh/dm/replicate-envelope', name: 'dm_replicate_envelope', maxBytes: REPLICATE_MAX_BYTES },
  { method: 'POST', path: '/api/mesh/dm/replicate-envelopes', name: 'dm_replicate_envelopes', maxBytes: REPLICATE_BATCH_MAX_BYTES },
  { method: 'POST', path: '/api/mesh/infonet/peer-push', name: 'infonet_peer_push', maxBytes: PEER_PUSH_MAX_BYTES },
  { method: 'GET', path: '/api/mesh/infonet/sync', name: 'infonet_sync', maxBytes: 0 },
  { method: 'POST', path: '/api/mesh/infonet/sync', name: 'infonet_sync', maxBytes: SYNC_MAX_BYTES },
  { method: 'POST', path: '/api/mesh/dm/ack', name: 'dm_ack', maxBytes: ACK_MAX_BYTES },
  { method: 'POST', path: '/api/mesh/dm/pull', name: 'dm_pull', maxBytes: PULL_MAX_BYTES },
];

/**
 * Requests per minute per client (§8.4: 60, §8.5: 30, §9.4: 600; ack, pull and the batch route are this node's
 * choice). The batch route has its own bucket of 60 requests (≤ 64 envelopes each) per minute per peer.
 */
export const DEFAULT_RATE_LIMITS: Readonly<Record<PeerRouteName, number>> = {
  dm_replicate_envelope: 60,
  dm_replicate_envelopes: 60,
  infonet_peer_push: 30,
  infonet_sync: 600,
  dm_ack: 120,
  dm_pull: 60,
};

export function findRoute(method: string, path: string): PeerRouteSpec | undefined {
  return PEER_ROUTES.find((r) => r.method === method && r.path === path);
}

export function routeByName(name: string): PeerRouteSpec | undefined {
  return PEER_ROUTES.find((r) => r.name === name && r.method === 'POST');
}

export type HeaderMap = Readonly<Record<string, string | readonly string[] | undefined>>;

export interface PeerRequest {
  method: 'GET' | 'POST';
  path: string;
  query?: URLSearchParams;
  body: Buffer;
  headers: HeaderMap;
  /** The socket's peer address (never the Host header); '' on the bus. */
  remoteAddress: string;
  transport: 'http' | 'bus';
}

export interface PeerResponse {
  status: number;
  json: unknown;
  /** Exact JSON text of the reply. */
  body: string;
  headers?: Record<string, string>;
}

export interface PeerEndpointDeps {
  chain: ChainActor;
  mailboxes: MailboxRegistry;
  settings: Settings;
  clock: Clock;
  logger?: Logger;
  rateLimits?: Partial<Record<PeerRouteName, number>>;
}

export interface PeerEndpoints {
  handle(req: PeerRequest): Promise<PeerResponse>;
  readonly limiter: RateLimiter;
}

const reply = (status: number, json: unknown, headers?: Record<string, string>): PeerResponse => ({
  status, json, body: JSON.stringify(json), ...(headers ? { headers } : {}),
});
const detail = (status: number, text: string, extra: Record<string, unknown> = {}): PeerResponse => reply(status, { ok: false, detail: text, ...extra });

function header(headers: HeaderMap, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() !== name || v === undefined) continue;
    return typeof v === 'string' ? v : v[0];
  }
  return undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** JSON body or undefined when it is not valid UTF-8 JSON. */
function parseJson(body: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(utf8.decode(body)) };
  } catch {
    return { ok: false };
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

function clampLimit(raw: unknown): number {
  const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isFinite(n)) return SYNC_DEFAULT_LIMIT;
  return Math.min(SYNC_MAX_LIMIT, Math.max(1, Math.trunc(n)));
}

/** A sync reply: every key JSON-encoded, except `events`, written event by event in wire form. */
function syncReply(obj: Record<string, unknown> & { events: ServedEvent[] }): PeerResponse {
  const parts = Object.entries(obj).map(([k, v]) =>
    `${JSON.stringify(k)}:${k === 'events' ? `[${(v as ServedEvent[]).map(servedEventToWireJson).join(',')}]` : JSON.stringify(v)}`);
  return { status: 200, json: obj, body: `{${parts.join(',')}}` };
}

export function createPeerEndpoints(deps: PeerEndpointDeps): PeerEndpoints {
  const { chain, mailboxes, settings, clock, logger } = deps;
  const limits = { ...DEFAULT_RATE_LIMITS, ...(deps.rateLimits ?? {}) };
  const limiter = new RateLimiter(clock);
  // §8.2.6: the allowlist of push peers is MESH_RELAY_PEERS (this node has no peer-store push bucket).
  const allowlist = parsePeerList(settings.peers.relayPeers);

  const authenticate = (req: PeerRequest) =>
    verifyPeerRequest({
      headerUrl: header(req.headers, 'x-peer-url'), headerMac: header(req.headers, 'x-peer-hmac'),
      body: req.body, allowlist, settings: settings.peers,
    });

  const limited = (route: PeerRouteName, client: string): PeerResponse | null => {
    const d = limiter.take(`${route}|${client}`, limits[route]);
    if (d.ok) return null;
    return reply(429, { ok: false, detail: 'Rate limit exceeded' }, { 'Retry-After': String(d.retryAfterS) });
  };

  const tooLarge = (spec: PeerRouteSpec): PeerResponse => {
    const max = spec.maxBytes % 1024 === 0 ? `${spec.maxBytes / 1024}KB` : `${spec.maxBytes} bytes`;
    return detail(413, `Request body too large (max ${max})`);
  };

  /** Size (before auth, §8.4.1), HMAC (§8.2), per-peer rate limit, JSON. */
  const peerPreamble = (spec: PeerRouteSpec, req: PeerRequest): PeerResponse | { peerUrl: string; value: unknown } => {
    if (req.body.length > spec.maxBytes) return tooLarge(spec);
    const auth = authenticate(req);
    if (!auth.ok) return detail(403, PEER_AUTH_FAILED);
    const rl = limited(spec.name, `peer:${auth.peerUrl}`);
    if (rl) return rl;
    const parsed = parseJson(req.body);
    if (!parsed.ok) return detail(400, 'Invalid JSON body');
    return { peerUrl: auth.peerUrl, value: parsed.value };
  };

  const relayFailure = (e: unknown): PeerResponse => {
    if (!isInfonetError(e)) throw e;
    return reply(200, { ok: false, detail: e.reason, ...(e.details ?? {}) });
  };

  async function replicateEnvelope(spec: PeerRouteSpec, req: PeerRequest): Promise<PeerResponse> {
    const pre = peerPreamble(spec, req);
    if ('status' in pre) return pre;
    const envelope = isObject(pre.value) ? pre.value.envelope : undefined;
    if (!isObject(envelope)) return reply(200, { ok: false, detail: 'envelope must be an object' });
    try {
      // docs/mailbox-sender-cap.md: the authenticated peer is what unsigned replicas are counted against.
      return reply(200, await mailboxes.acceptReplica(envelope, pre.peerUrl));
    } catch (e) {
      return relayFailure(e);
    }
  }

  /**
   * [extension] `POST /api/mesh/dm/replicate-envelopes` `{"envelopes":[…]}`: the same preamble as the single route
   * (size before auth, HMAC, per-peer rate limit, JSON), then every item goes through acceptReplica exactly as one
   * single-route request would; the answer lists one result per item, in order. Items run concurrently, so a batch
   * costs one group commit; items for the same mailbox are still applied in order by that mailbox's actor.
   */
  async function replicateEnvelopes(spec: PeerRouteSpec, req: PeerRequest): Promise<PeerResponse> {
    const pre = peerPreamble(spec, req);
    if ('status' in pre) return pre;
    const list = isObject(pre.value) ? pre.value.envelopes : undefined;
    if (!Array.isArray(list) || list.length > REPLICATE_BATCH_MAX_ITEMS) {
      return reply(200, { ok: false, detail: `envelopes must be a list of at most ${REPLICATE_BATCH_MAX_ITEMS} items` });
    }
    const results = await Promise.all(list.map(async (envelope): Promise<unknown> => {
      if (!isObject(envelope)) return { ok: false, detail: 'envelope must be an object' };
      try {
        return await mailboxes.acceptReplica(envelope, pre.peerUrl);
      } catch (e) {
        return relayFailure(e).json;
      }
    }));
    let accepted = 0;
    let duplicates = 0;
    for (const r of results as Array<{ ok?: unknown; duplicate?: unknown }>) {
      if (r.ok === true && r.duplicate === true) duplicates++;
      else if (r.ok === true) accepted++;
    }
    return reply(200, { ok: true, results, accepted, duplicates, rejected: results.length - accepted - duplicates });
  }

  async function peerPush(spec: PeerRouteSpec, req: PeerRequest): Promise<PeerResponse> {
    const pre = peerPreamble(spec, req);
    if ('status' in pre) return pre;
    const events = isObject(pre.value) ? pre.value.events : undefined;
    if (!Array.isArray(events)) return reply(200, { ok: false, detail: 'events must be a list' });
    if (events.length > PEER_PUSH_MAX_EVENTS) return reply(200, { ok: false, detail: `too many events (max ${PEER_PUSH_MAX_EVENTS})` });
    if (events.length === 0) return reply(200, { ok: true, accepted: 0, duplicates: 0, rejected: [] });
    // Gate view / DM relay hydration follows from the chain's `ingested` notice (node/infonet-node.ts).
    const out = await chain.ingest(events);
    return reply(200, { ok: true, accepted: out.accepted, duplicates: out.duplicates, rejected: out.rejected });
  }

  async function dmAck(spec: PeerRouteSpec, req: PeerRequest): Promise<PeerResponse> {
    const pre = peerPreamble(spec, req);
    if ('status' in pre) return pre;
    const acks = isObject(pre.value) ? pre.value.acks : undefined;
    if (!Array.isArray(acks) || acks.length > ACK_MAX_ITEMS) {
      return reply(200, { ok: false, detail: `acks must be a list of at most ${ACK_MAX_ITEMS} items` });
    }
    let removed = 0;
    let ignored = 0;
    for (const a of acks) {
      const msgId = isObject(a) && typeof a.msg_id === 'string' ? a.msg_id.trim() : '';
      if (!msgId || !isObject(a)) {
        ignored++;
        continue;
      }
      // §10.1.2: delete only the exact msg_id named; never re-propagated from here (the originator fans out).
      if (await mailboxes.applyAck(msgId, descriptorOf(a))) removed++;
      else ignored++;
    }
    return reply(200, { ok: true, removed, ignored });
  }

  async function dmPull(spec: PeerRouteSpec, req: PeerRequest): Promise<PeerResponse> {
    const pre = peerPreamble(spec, req);
    if ('status' in pre) return pre;
    const boxes = isObject(pre.value) ? pre.value.mailboxes : undefined;
    if (!Array.isArray(boxes)) return reply(200, { ok: false, detail: 'mailboxes must be a list' });
    if (boxes.length > PULL_MAX_MAILBOXES) return reply(200, { ok: false, detail: `too many mailboxes (max ${PULL_MAX_MAILBOXES})` });
    const envelopes: unknown[] = [];
    for (const b of boxes) {
      if (!isObject(b) || envelopes.length >= PULL_MAX_ENVELOPES) continue;
      envelopes.push(...(await mailboxes.pendingEnvelopes(descriptorOf(b), PULL_MAX_ENVELOPES - envelopes.length)));
    }
    return reply(200, { ok: true, envelopes, count: envelopes.length });
  }

  function callerView(req: PeerRequest): { includePrivate: boolean } {
    const allowClearnetSync = settings.peers.allowClearnetSync;
    // The bus is a private transport (federation over NATS); HTTP callers are judged by socket + forwarding headers.
    if (req.transport === 'bus') return { includePrivate: !allowClearnetSync };
    return { includePrivate: includePrivateEvents({ remoteAddress: req.remoteAddress, headers: req.headers, allowClearnetSync }) };
  }

  const syncClient = (req: PeerRequest): string =>
    req.transport === 'bus' ? `bus:${header(req.headers, 'x-peer-url') ?? ''}` : `addr:${req.remoteAddress}`;

  async function syncPost(spec: PeerRouteSpec, req: PeerRequest): Promise<PeerResponse> {
    if (req.body.length > spec.maxBytes) return tooLarge(spec);
    const rl = limited('infonet_sync', syncClient(req));
    if (rl) return rl;
    const parsed = parseJson(req.body);
    if (!parsed.ok) return detail(400, 'Invalid JSON body');
    const body = isObject(parsed.value) ? parsed.value : {};
    const pv = body.protocol_version;
    if (pv !== undefined && pv !== null && pv !== PROTOCOL_VERSION) {
      return detail(426, 'Unsupported protocol_version', { protocol_version: PROTOCOL_VERSION });
    }
    if (!Array.isArray(body.locator)) return reply(200, { ok: false, detail: 'locator must be a list' });
    const expected = body.expected_head;
    if (typeof expected === 'string' && expected !== '' && expected !== chain.head) {
      return detail(409, 'head_hash mismatch', { head_hash: chain.head, expected_head: expected });
    }
    const limit = clampLimit(body.limit ?? req.query?.get('limit') ?? undefined);
    const view = callerView(req);
    // [extension] An authenticated private peer may ask for pages without §9.5.4, so it can ingest them.
    const unredacted = body.unredacted === true && view.includePrivate && authenticate(req).ok;
    const m = matchLocator(body.locator, (id) => chain.heightOf(id) ?? -1);
    const slice: ChainEvent[] = m.startIndex >= 0 ? await chain.readRange(m.startIndex, limit) : [];
    const page = redactPage(slice, { includePrivate: view.includePrivate, unredacted });
    return syncReply({
      ok: true, events: page.events, matched_hash: m.matchedHash, forked: m.forked, head_hash: chain.head,
      count: page.events.length, protocol_version: PROTOCOL_VERSION, links: page.links,
    });
  }

  async function syncGet(req: PeerRequest): Promise<PeerResponse> {
    const rl = limited('infonet_sync', syncClient(req));
    if (rl) return rl;
    const q = req.query ?? new URLSearchParams();
    const pv = q.get('protocol_version');
    if (pv !== null && pv !== '' && pv !== PROTOCOL_VERSION) {
      return detail(426, 'Unsupported protocol_version', { protocol_version: PROTOCOL_VERSION });
    }
    const expected = q.get('expected_head');
    if (expected && expected !== chain.head) return detail(409, 'head_hash mismatch', { head_hash: chain.head, expected_head: expected });
    const after = q.get('after_hash') || GENESIS_HASH;
    const limit = clampLimit(q.get('limit') ?? undefined);
    const at = after === GENESIS_HASH ? -1 : chain.heightOf(after);
    const start = after === GENESIS_HASH ? 0 : at === undefined ? -1 : at + 1;
    const slice = start >= 0 ? await chain.readRange(start, limit) : [];
    const page = redactPage(slice, callerView(req));
    return syncReply({
      ok: true, events: page.events, after_hash: after, count: page.events.length, protocol_version: PROTOCOL_VERSION, links: page.links,
    });
  }

  async function handle(req: PeerRequest): Promise<PeerResponse> {
    const spec = findRoute(req.method, req.path);
    if (!spec) return detail(404, 'Not Found');
    try {
      switch (spec.name) {
        case 'dm_replicate_envelope': return await replicateEnvelope(spec, req);
        case 'dm_replicate_envelopes': return await replicateEnvelopes(spec, req);
        case 'infonet_peer_push': return await peerPush(spec, req);
        case 'infonet_sync': return await (req.method === 'GET' ? syncGet(req) : syncPost(spec, req));
        case 'dm_ack': return await dmAck(spec, req);
        case 'dm_pull': return await dmPull(spec, req);
      }
    } catch (e) {
      logger?.error({ err: (e as Error)?.message, route: spec.path }, 'peer endpoint failed');
      return detail(500, 'Internal error');
    }
  }

  return { handle, limiter };
}

function descriptorOf(o: Record<string, unknown>): AckDescriptor {
  const s = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
  const d: AckDescriptor = { delivery_class: s(o.delivery_class) ?? '' };
  const rid = s(o.recipient_id);
  const th = s(o.recipient_token_hash);
  if (rid) d.recipient_id = rid;
  if (th) d.recipient_token_hash = th;
  return d;
}
