// The peer port: what actors and the peer application see of "talking to another node", and what every
// transport (loopback HTTP, bus, onion, RNS) implements. Types only — no I/O, no transport names.
//
//   outbound:  actor → PeerPort.send({peer URL, route, signed body}) → the transport registered for the URL's scheme
//   inbound:   listener (HTTP, bus, onion, RNS) → PeerApplication.handle(request) → reply bytes back to the caller
//
// A listener classifies its caller by *where the request arrived* (`via`), never by a header a client could forge:
// bus, onion and RNS listeners only carry private callers; a plain HTTP listener is judged by socket address and
// forwarding headers (§9.5).
import type { PeerRoute } from '../protocol/peer-routes.js';

export type { PeerRoute };

export interface PeerCallRequest {
  /** Normalised peer URL (§8.1): http://127.0.0.1:P, http://<56>.onion, nats://<node>, rns://<32 hex>. */
  peer: string;
  route: PeerRoute;
  /** Exact bytes the HMAC covers (§8.2.3). */
  body: Uint8Array;
  /** X-Peer-Url / X-Peer-HMAC (and anything else the route needs). */
  headers: Readonly<Record<string, string>>;
  timeoutMs: number;
}

export interface PeerCallResponse {
  status: number;
  /** Raw answer bytes (JSON for every route). */
  body: Uint8Array;
  /** Already-decoded JSON when the transport carries it structured (bus). */
  json?: unknown;
  /** Retry-After in seconds, parsed and clamped (§9.6), when the peer sent one. */
  retryAfterS?: number;
}

/**
 * Failures are InfonetErrors with these codes:
 *   UNAVAILABLE                 could not reach the peer (refused, reset, circuit failed, no path) — retryable
 *   TIMEOUT                     no answer within timeoutMs — retryable
 *   PRIVATE_TRANSPORT_REQUIRED  policy forbids this peer (§9.1) — nothing was sent, not retryable
 *   BAD_INPUT                   this transport cannot address that URL — not retryable
 */
export interface PeerPort {
  send(req: PeerCallRequest): Promise<PeerCallResponse>;
}

/** One transport, registered by URL scheme/kind in the composition root. */
export interface PeerTransport extends PeerPort {
  readonly name: string;
  /** True when this transport can carry requests to `peer` (a normalised URL). */
  handles(peer: string): boolean;
  close(): Promise<void>;
}

export type HeaderMap = Readonly<Record<string, string | readonly string[] | undefined>>;

/** Where an inbound request arrived. 'http' = the plain peer HTTP listener; the others are private by construction. */
export type InboundVia = 'http' | 'bus' | 'onion' | 'rns';

export interface InboundPeerRequest {
  method: 'GET' | 'POST';
  path: string;
  query?: URLSearchParams;
  body: Buffer;
  headers: HeaderMap;
  /** The socket's peer address (never the Host header); '' where there is no socket (bus, RNS). */
  remoteAddress: string;
  via: InboundVia;
}

export interface InboundPeerResponse {
  status: number;
  json: unknown;
  /** Exact JSON text of the reply. */
  body: string;
  headers?: Record<string, string>;
}

/** The peer application (what replicate, push, sync, ack and pull mean); every listener calls it. */
export interface PeerApplication {
  handle(req: InboundPeerRequest): Promise<InboundPeerResponse>;
}
