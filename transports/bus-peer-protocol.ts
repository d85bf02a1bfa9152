// Peer requests over the NATS federation (issue 5 "bus" transport), shared by the client
// (transports/bus-transport.ts) and the server (transports/bus-peer-server.ts).
//
//   peer URL   nats://<node id>             (or nats://<node token>; e.g. nats://!sb_56475aa7…)
//   subject    infonet.<node token>.peer.<name>   name = route with '/' and '-' as '_', the names of
//              protocol/peer-routes.ts: infonet.sb_56475aa7….peer.dm_replicate_envelope
//   request    payload = the exact JSON body bytes an HTTP peer would receive (the HMAC covers them);
//              NATS headers X-Peer-Url / X-Peer-HMAC exactly as the HTTP headers (§8.2)
//   reply      msgpack {status: int, body: <exact JSON text of the answer>, retry_after?: string}
//              (status and Retry-After mean what they mean over HTTP; the text keeps sync pages in wire form);
//              a reply carrying the decoded answer as `json` instead of `body` is accepted too
//
// The bus is the same authentication domain as HTTP: a request without a valid MAC is answered
// {status: 403, json: {ok:false, detail:"Invalid or missing peer HMAC"}}.
import { ErrorCodes, InfonetError } from '../protocol/errors.js';
import { normalizePeerUrl } from '../protocol/peer-url.js';
import { decodeSafe } from '../bus/codec.js';
import { SUBJECT_ROOT, decodeNodeToken, encodeNodeToken } from '../bus/subjects.js';
import { PEER_ROUTES, routeByName, type PeerRoute } from '../protocol/peer-routes.js';


/** `nats://<node id>` (issue 5's form; the harness advertises it too). */
export const busPeerUrl = (nodeId: string): string => `nats://${nodeId}`;

/** The node id a `nats://…` peer URL names, or null. Accepts the token form and the `!`-prefixed id form. */
export function busPeerNodeId(peerUrl: string): string | null {
  const u = normalizePeerUrl(peerUrl);
  const m = /^nats:\/\/([^/]+)$/.exec(u);
  if (!m) return null;
  const host = m[1];
  if (host.startsWith('!')) return decodeNodeToken(host.slice(1)) === host ? host : null;
  return decodeNodeToken(host);
}

/** Subject token of a route (the route table's `name`): `dm/replicate-envelope` → `dm_replicate_envelope`. */
const busRouteName = (route: PeerRoute): string => PEER_ROUTES.find((r) => r.route === route)!.name;

/** `infonet.<node token>.peer.<name>` */
export function busPeerSubject(nodeId: string, route: PeerRoute): string {
  return `${SUBJECT_ROOT}.${encodeNodeToken(nodeId)}.peer.${busRouteName(route)}`;
}

/** Subscription of one node's peer server: `infonet.<node token>.peer.>`. */
export const busPeerWildcard = (nodeId: string): string => `${SUBJECT_ROOT}.${encodeNodeToken(nodeId)}.peer.>`;

/** The route a peer subject addresses, or null for anything that is not a known route. */
export function busPeerRouteOf(subject: string): PeerRoute | null {
  const t = subject.split('.');
  if (t.length !== 4 || t[0] !== SUBJECT_ROOT || t[2] !== 'peer') return null;
  return routeByName(t[3])?.route ?? null;
}

export interface BusPeerReply {
  status: number;
  /** The answer's exact JSON text (what an HTTP client would read), when the reply carried it. */
  text?: string;
  /** Already-decoded JSON, only from a reply that carried it structured instead of as text. */
  json?: unknown;
  retry_after?: string;
}

/** Decodes a reply; a malformed one is an UNAVAILABLE error (the peer did not answer in protocol). */
export function decodeBusPeerReply(bytes: Uint8Array, peer: string): BusPeerReply {
  const d = decodeSafe(bytes);
  const v: unknown = d.ok ? d.value : undefined;
  const o = v as (Partial<BusPeerReply> & { body?: unknown }) | undefined;
  if (!o || typeof o !== 'object' || typeof o.status !== 'number' || !Number.isInteger(o.status)) {
    throw new InfonetError(ErrorCodes.UNAVAILABLE, `peer ${peer} sent a malformed bus reply`, { peer });
  }
  // The text is handed on as it came: the caller parses it as HTTP answers are parsed (sync pages keeping their
  // payload number literals, Appendix D), instead of a JSON.parse here and a JSON.stringify back to bytes.
  const text = typeof o.body === 'string' ? o.body : o.body instanceof Uint8Array ? Buffer.from(o.body).toString('utf8') : undefined;
  return {
    status: o.status,
    ...(text !== undefined ? { text } : o.json !== undefined ? { json: o.json } : {}),
    ...(typeof o.retry_after === 'string' ? { retry_after: o.retry_after } : {}),
  };
}
