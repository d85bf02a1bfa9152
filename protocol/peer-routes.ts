// The peer routes as data (spec §8.4, §8.5, §9.4, §10.1, §10.2 and this node's batch route): names, HTTP method and
// path, body limits, item limits and default rate limits. One table for every listener (HTTP, bus, onion, RNS) and
// every sender; the bus maps each route to a subject token (`name`).

/** Peer routes, named as in the HTTP API (`POST /api/mesh/<route>`). */
export const PEER_ROUTE_PATHS = ['dm/replicate-envelope', 'dm/replicate-envelopes', 'dm/ack', 'dm/pull', 'infonet/peer-push', 'infonet/sync'] as const;
export type PeerRoute = (typeof PEER_ROUTE_PATHS)[number];

export const routePath = (route: PeerRoute): string => `/api/mesh/${route}`;

export type PeerRouteName = 'dm_replicate_envelope' | 'dm_replicate_envelopes' | 'infonet_peer_push' | 'infonet_sync' | 'dm_ack' | 'dm_pull';

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

export interface PeerRouteSpec {
  method: 'GET' | 'POST';
  path: string;
  route: PeerRoute;
  /** Bus subject token: requests arrive on `infonet.<node>.peer.<name>`. */
  name: PeerRouteName;
  /** Bodies larger than this are refused with 413 before anything else happens. */
  maxBytes: number;
}

export const PEER_ROUTES: readonly PeerRouteSpec[] = [
  { method: 'POST', path: routePath('dm/replicate-envelope'), route: 'dm/replicate-envelope', name: 'dm_replicate_envelope', maxBytes: REPLICATE_MAX_BYTES },
  { method: 'POST', path: routePath('dm/replicate-envelopes'), route: 'dm/replicate-envelopes', name: 'dm_replicate_envelopes', maxBytes: REPLICATE_BATCH_MAX_BYTES },
  { method: 'POST', path: routePath('infonet/peer-push'), route: 'infonet/peer-push', name: 'infonet_peer_push', maxBytes: PEER_PUSH_MAX_BYTES },
  { method: 'GET', path: routePath('infonet/sync'), route: 'infonet/sync', name: 'infonet_sync', maxBytes: 0 },
  { method: 'POST', path: routePath('infonet/sync'), route: 'infonet/sync', name: 'infonet_sync', maxBytes: SYNC_MAX_BYTES },
  { method: 'POST', path: routePath('dm/ack'), route: 'dm/ack', name: 'dm_ack', maxBytes: ACK_MAX_BYTES },
  { method: 'POST', path: routePath('dm/pull'), route: 'dm/pull', name: 'dm_pull', maxBytes: PULL_MAX_BYTES },
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

/** §8.4.1 refusal text for a body over `maxBytes`: `Request body too large (max 64KB)`. */
export function bodyLimitText(maxBytes: number): string {
  const max = maxBytes % 1024 === 0 ? `${maxBytes / 1024}KB` : `${maxBytes} bytes`;
  return `Request body too large (max ${max})`;
}
