// The one interface every peer transport implements (issue 5; onion and RNS come next behind it).
// A transport only moves bytes: it is handed an already-signed body for one peer URL and a route, and
// answers with the peer's status and body. Which peers, what to send, retries and caps are decided by
// actors/replication-actor.ts and actors/peer-link-actor.ts, never here.
import { ErrorCodes, InfonetError } from '../protocol/errors.js';
import { normalizePeerUrl, transportKind, isPrivateTransport, type TransportKind } from '../protocol/peer-url.js';

/** Peer routes, named as in the HTTP API (`POST /api/mesh/<route>`); the bus maps them to subjects. */
export const PEER_ROUTES = ['dm/replicate-envelope', 'dm/replicate-envelopes', 'dm/ack', 'dm/pull', 'infonet/peer-push', 'infonet/sync'] as const;
export type PeerRoute = (typeof PEER_ROUTES)[number];

export const routePath = (route: PeerRoute): string => `/api/mesh/${route}`;

export interface TransportRequest {
  /** Normalised peer URL (§8.1). */
  peer: string;
  route: PeerRoute;
  /** Exact bytes the HMAC covers (§8.2.3). */
  body: Uint8Array;
  /** X-Peer-Url / X-Peer-HMAC (and anything else the route needs). */
  headers: Readonly<Record<string, string>>;
  timeoutMs: number;
}

export interface TransportResponse {
  status: number;
  /** Raw answer bytes (JSON for every route). */
  body: Uint8Array;
  /** Already-decoded JSON when the transport carries it structured (bus). */
  json?: unknown;
  /** Retry-After in seconds, parsed and clamped (§9.6), when the peer sent one. */
  retryAfterS?: number;
}

/**
 * Failures are InfonetErrors with these codes, so callers can tell them apart:
 *   UNAVAILABLE                 could not reach the peer (refused, reset, no responders) — retryable
 *   TIMEOUT                     no answer within timeoutMs — retryable
 *   PRIVATE_TRANSPORT_REQUIRED  policy forbids this peer (§9.1) — nothing was sent, not retryable
 *   BAD_INPUT                   this transport cannot address that URL — not retryable
 */
export interface PeerTransport {
  readonly name: string;
  /** True when this transport can carry requests to `peer` (a normalised URL). */
  handles(peer: string): boolean;
  send(req: TransportRequest): Promise<TransportResponse>;
  close(): Promise<void>;
}

export const unreachable = (peer: string, why: string): InfonetError =>
  new InfonetError(ErrorCodes.UNAVAILABLE, `peer ${peer} unreachable: ${why}`, { peer });

export const timedOut = (peer: string, ms: number): InfonetError =>
  new InfonetError(ErrorCodes.TIMEOUT, `peer ${peer} did not answer within ${ms} ms`, { peer, timeout_ms: ms });

/** The §9.1 error text, verbatim from the original. */
export const PRIVATE_TRANSPORT_ERROR = 'private Infonet requires onion/RNS transport; no clearnet sync fallback';

export const privateTransportRequired = (peer: string): InfonetError =>
  new InfonetError(ErrorCodes.PRIVATE_TRANSPORT_REQUIRED, PRIVATE_TRANSPORT_ERROR, { peer });

/** Retryable transport failures (the peer may answer later); everything else is final for the item. */
export function isRetryableTransportError(e: unknown): boolean {
  return e instanceof InfonetError && (e.code === ErrorCodes.UNAVAILABLE || e.code === ErrorCodes.TIMEOUT);
}

/** Push timeout (§8.3.4): `max(180 if onion else 1, MESH_RELAY_PUSH_TIMEOUT_S)` seconds, in ms. */
export function pushTimeoutMs(peer: string, relayPushTimeoutS: number): number {
  const floor = transportKind(peer) === 'onion' ? 180 : 1;
  return Math.max(floor, relayPushTimeoutS) * 1000;
}

/** May private mode contact this peer at all (§9.1)? Checked before any socket is opened. */
export function peerAllowed(peer: string, allowClearnet: boolean): boolean {
  const kind: TransportKind = transportKind(normalizePeerUrl(peer));
  return allowClearnet ? kind !== '' : isPrivateTransport(kind);
}

/** Routes a request to the first transport that handles the peer; the set is fixed at start-up. */
export class TransportSet {
  constructor(private readonly transports: readonly PeerTransport[], private readonly allowClearnet: boolean) {}

  send(req: TransportRequest): Promise<TransportResponse> {
    // Policy first: a clearnet peer in private mode is an error for that peer, with no connection attempt.
    if (!peerAllowed(req.peer, this.allowClearnet)) return Promise.reject(privateTransportRequired(req.peer));
    const t = this.transports.find((x) => x.handles(req.peer));
    if (!t) {
      return Promise.reject(new InfonetError(ErrorCodes.BAD_INPUT, `no transport for peer ${req.peer} (kind ${transportKind(req.peer) || 'unknown'})`, { peer: req.peer }));
    }
    return t.send(req);
  }

  async close(): Promise<void> {
    await Promise.all(this.transports.map((t) => t.close().catch(() => undefined)));
  }
}

/** The answer's JSON (structured from the bus, parsed from HTTP bytes), or undefined when it is not JSON. */
export function responseJson(r: TransportResponse): unknown {
  if (r.json !== undefined) return r.json;
  if (r.body.length === 0) return undefined;
  try {
    return JSON.parse(Buffer.from(r.body).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
