// The peer application (issue 9): what the peer routes mean, one file per route, behind ports/peer.ts
// `PeerApplication`. Every listener — the fastify HTTP listener, the bus listener, and the onion/RNS listeners — calls
// `handle` with where the request arrived (`via`); the answer is the status, JSON and exact body text to send back.
import type { InboundPeerRequest, InboundPeerResponse, PeerApplication } from '../ports/peer.js';
import { findRoute, PEER_ROUTES } from '../protocol/peer-routes.js';
import { dmAck } from './ack.js';
import { createPeerContext, type PeerAppDeps, type PeerContext } from './context.js';
import { peerPush } from './peer-push.js';
import { dmPull } from './pull.js';
import type { RateLimiter } from './rate-limit.js';
import { replicateEnvelope } from './replicate-envelope.js';
import { replicateEnvelopes } from './replicate-envelopes.js';
import { refuse } from './reply.js';
import { syncGet, syncPost } from './sync-serve.js';

export type { PeerAppDeps } from './context.js';

export interface PeerApp extends PeerApplication {
  readonly limiter: RateLimiter;
}

function route(ctx: PeerContext, req: InboundPeerRequest): Promise<InboundPeerResponse> {
  const spec = findRoute(req.method, req.path);
  if (!spec) {
    const known = PEER_ROUTES.some((r) => r.path === req.path);
    return Promise.resolve(known ? refuse(405, 'Method Not Allowed') : refuse(404, 'Not Found'));
  }
  switch (spec.name) {
    case 'dm_replicate_envelope': return replicateEnvelope(ctx, spec, req);
    case 'dm_replicate_envelopes': return replicateEnvelopes(ctx, spec, req);
    case 'infonet_peer_push': return peerPush(ctx, spec, req);
    case 'infonet_sync': return req.method === 'GET' ? syncGet(ctx, req) : syncPost(ctx, spec, req);
    case 'dm_ack': return dmAck(ctx, spec, req);
    case 'dm_pull': return dmPull(ctx, spec, req);
  }
}

export function createPeerApplication(deps: PeerAppDeps): PeerApp {
  const ctx = createPeerContext(deps);
  return {
    limiter: ctx.limiter,
    async handle(req) {
      try {
        return await route(ctx, req);
      } catch (e) {
        // Input never reaches here (schemas and typed refusals cover it); this is a bug or a store failure.
        deps.logger?.error({ err: (e as Error)?.message, route: req.path, via: req.via }, 'peer route failed');
        return refuse(500, 'Internal error');
      }
    },
  };
}
