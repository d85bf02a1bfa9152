// The common front of every HMAC-authenticated peer route (§8.4 order): size before auth, HMAC (§8.2), per-peer rate
// limit, JSON. Rate limits key on the authenticated peer URL: behind a Tor hidden service every peer arrives from
// 127.0.0.1, so the socket address would put the whole fleet in one bucket.
import type { InboundPeerRequest, InboundPeerResponse } from '../ports/peer.js';
import { PEER_AUTH_FAILED, verifyPeerRequest, type PeerAuthResult } from '../protocol/peer-auth.js';
import type { PeerRouteName, PeerRouteSpec } from '../protocol/peer-routes.js';
import type { PeerContext } from './context.js';
import { header, INVALID_JSON, parseJsonBody, refuse, reply, tooLarge } from './reply.js';

export function authenticate(ctx: PeerContext, req: InboundPeerRequest): PeerAuthResult {
  return verifyPeerRequest({
    headerUrl: header(req.headers, 'x-peer-url'), headerMac: header(req.headers, 'x-peer-hmac'),
    body: req.body, allowlist: ctx.allowlist, settings: ctx.deps.settings.peers,
  });
}

/** null when the client may proceed; a 429 with Retry-After otherwise. */
export function rateLimited(ctx: PeerContext, route: PeerRouteName, client: string): InboundPeerResponse | null {
  const d = ctx.limiter.take(`${route}|${client}`, ctx.limits[route]);
  if (d.ok) return null;
  return reply(429, { ok: false, detail: 'Rate limit exceeded' }, { 'Retry-After': String(d.retryAfterS) });
}

export type Admitted = { peerUrl: string; value: unknown };

/** `json: 'plain'` for routes whose bodies hold no chain events (see parseJsonBody). */
export function admitPeerRequest(ctx: PeerContext, spec: PeerRouteSpec, req: InboundPeerRequest, json: 'events' | 'plain' = 'events'): InboundPeerResponse | Admitted {
  if (req.body.length > spec.maxBytes) return tooLarge(spec);
  const auth = authenticate(ctx, req);
  if (!auth.ok) return refuse(403, PEER_AUTH_FAILED);
  ctx.deps.onPeerContact?.(auth.peerUrl);
  const rl = rateLimited(ctx, spec.name, `peer:${auth.peerUrl}`);
  if (rl) return rl;
  const parsed = parseJsonBody(req.body, json);
  if (!parsed.ok) return INVALID_JSON();
  return { peerUrl: auth.peerUrl, value: parsed.value };
}

export const isResponse = (x: InboundPeerResponse | Admitted): x is InboundPeerResponse => 'status' in x;
