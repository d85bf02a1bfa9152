// [extension] POST /api/mesh/dm/replicate-envelopes `{"envelopes":[…]}` (docs/dm-relay.md): the single route's
// preamble, then every item's schema is checked BEFORE anything is stored (issue 8 item 5: one malformed item used to
// fail the request with 500 after the others were stored); valid items go through accept_replica exactly as a
// single-route request would, as ONE registry command (issue 14: one acquire per mailbox, one durable write for the
// request; one mailbox's items stay in request order). The answer lists one result per item, in order.
import type { InboundPeerRequest, InboundPeerResponse } from '../ports/peer.js';
import type { PeerRouteSpec } from '../protocol/peer-routes.js';
import type { PeerContext } from './context.js';
import { admitPeerRequest, isResponse } from './preamble.js';
import { relayFailure } from './relay-failure.js';
import { storeEnvelope } from './replicate-envelope.js';
import { refuse, reply } from './reply.js';
import { type Checked, check, checkEnvelope, replicateEnvelopesBody } from '../protocol/peer-schemas.js';

type ItemResult = Record<string, unknown>;

/** accept_replica for the items whose schema passed; the in-band answer per item (as the single route gives it). */
async function storeEnvelopes(ctx: PeerContext, verdicts: Checked<Record<string, unknown>>[], peerUrl: string): Promise<ItemResult[]> {
  const { mailboxes } = ctx.deps;
  if (!mailboxes.acceptReplicas) {
    return Promise.all(verdicts.map((v) => (v.ok ? storeEnvelope(ctx, v.value, peerUrl) : { ok: false, detail: v.reason })));
  }
  const valid = verdicts.flatMap((v) => (v.ok ? [v.value] : []));
  const stored = valid.length ? await mailboxes.acceptReplicas(valid, peerUrl) : [];
  let j = 0;
  return verdicts.map((v): ItemResult => {
    if (!v.ok) return { ok: false, detail: v.reason };
    const r = stored[j++];
    return r instanceof Error ? relayFailure(r).json as ItemResult : { ...r };
  });
}

export async function replicateEnvelopes(ctx: PeerContext, spec: PeerRouteSpec, req: InboundPeerRequest): Promise<InboundPeerResponse> {
  const pre = admitPeerRequest(ctx, spec, req, 'plain');
  if (isResponse(pre)) return pre;
  const body = check(replicateEnvelopesBody, pre.value);
  if (!body.ok) return refuse(200, body.reason);
  const verdicts = body.value.envelopes.map((raw) => checkEnvelope(raw));
  const results = await storeEnvelopes(ctx, verdicts, pre.peerUrl);
  let accepted = 0;
  let duplicates = 0;
  for (const r of results) {
    if (r.ok === true && r.duplicate === true) duplicates++;
    else if (r.ok === true) accepted++;
  }
  return reply(200, { ok: true, results, accepted, duplicates, rejected: results.length - accepted - duplicates });
}
