// POST /api/mesh/dm/replicate-envelope (§8.4): preamble, then accept_replica (§7.8) for the one envelope.
import type { InboundPeerRequest, InboundPeerResponse } from '../ports/peer.js';
import type { PeerRouteSpec } from '../protocol/peer-routes.js';
import type { PeerContext } from './context.js';
import { admitPeerRequest, isResponse } from './preamble.js';
import { relayFailure } from './relay-failure.js';
import { refuse, reply } from './reply.js';
import { check, checkEnvelope, replicateEnvelopeBody } from '../protocol/peer-schemas.js';

/** accept_replica for an envelope whose field types were checked; the in-band answer either way. */
export async function storeEnvelope(ctx: PeerContext, envelope: Record<string, unknown>, peerUrl: string): Promise<Record<string, unknown>> {
  try {
    // docs/mailbox-sender-cap.md: the authenticated peer is what unsigned replicas are counted against.
    return { ...(await ctx.deps.mailboxes.acceptReplica(envelope, peerUrl)) };
  } catch (e) {
    return relayFailure(e).json as Record<string, unknown>;
  }
}

export async function replicateEnvelope(ctx: PeerContext, spec: PeerRouteSpec, req: InboundPeerRequest): Promise<InboundPeerResponse> {
  const pre = admitPeerRequest(ctx, spec, req, 'plain');
  if (isResponse(pre)) return pre;
  const body = check(replicateEnvelopeBody, pre.value);
  if (!body.ok) return refuse(200, body.reason);
  const env = checkEnvelope(body.value.envelope);
  if (!env.ok) return refuse(200, env.reason);
  return reply(200, await storeEnvelope(ctx, env.value, pre.peerUrl));
}
