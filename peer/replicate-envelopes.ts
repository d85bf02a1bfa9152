// [extension] POST /api/mesh/dm/replicate-envelopes `{"envelopes":[…]}` (docs/dm-relay.md): the single route's
// preamble, then every item's schema is checked BEFORE anything is stored (issue 8 item 5: one malformed item used to
// fail the request with 500 after the others were stored); valid items go through accept_replica exactly as a
// single-route request would, concurrently (one group commit; one mailbox's items stay ordered by its actor). The
// answer lists one result per item, in order.
import type { InboundPeerRequest, InboundPeerResponse } from '../ports/peer.js';
import type { PeerRouteSpec } from '../protocol/peer-routes.js';
import type { PeerContext } from './context.js';
import { admitPeerRequest, isResponse } from './preamble.js';
import { storeEnvelope } from './replicate-envelope.js';
import { refuse, reply } from './reply.js';
import { check, envelopeSchema, replicateEnvelopesBody } from '../protocol/peer-schemas.js';

export async function replicateEnvelopes(ctx: PeerContext, spec: PeerRouteSpec, req: InboundPeerRequest): Promise<InboundPeerResponse> {
  const pre = admitPeerRequest(ctx, spec, req);
  if (isResponse(pre)) return pre;
  const body = check(replicateEnvelopesBody, pre.value);
  if (!body.ok) return refuse(200, body.reason);
  const verdicts = body.value.envelopes.map((raw) => check(envelopeSchema, raw, 'envelope'));
  const results = await Promise.all(verdicts.map((v): Promise<Record<string, unknown>> | Record<string, unknown> =>
    v.ok ? storeEnvelope(ctx, v.value, pre.peerUrl) : { ok: false, detail: v.reason }));
  let accepted = 0;
  let duplicates = 0;
  for (const r of results) {
    if (r.ok === true && r.duplicate === true) duplicates++;
    else if (r.ok === true) accepted++;
  }
  return reply(200, { ok: true, results, accepted, duplicates, rejected: results.length - accepted - duplicates });
}
