// POST /api/mesh/infonet/peer-push (§8.5): preamble, `events` a list of at most 50, then ingest (§9.2). Gate view and
// DM relay hydration follow from the chain's `ingested` notice (node/infonet-node.ts).
import type { InboundPeerRequest, InboundPeerResponse } from '../ports/peer.js';
import type { PeerRouteSpec } from '../protocol/peer-routes.js';
import type { PeerContext } from './context.js';
import { admitPeerRequest, isResponse } from './preamble.js';
import { refuse, reply } from './reply.js';
import { check, peerPushBody } from '../protocol/peer-schemas.js';

export async function peerPush(ctx: PeerContext, spec: PeerRouteSpec, req: InboundPeerRequest): Promise<InboundPeerResponse> {
  const pre = admitPeerRequest(ctx, spec, req);
  if (isResponse(pre)) return pre;
  const body = check(peerPushBody, pre.value);
  if (!body.ok) return refuse(200, body.reason);
  const events = body.value.events;
  if (events.length === 0) return reply(200, { ok: true, accepted: 0, duplicates: 0, rejected: [] });
  const out = await ctx.deps.chain.ingest(events);
  return reply(200, { ok: true, accepted: out.accepted, duplicates: out.duplicates, rejected: out.rejected });
}
