// POST /api/mesh/dm/ack (§10.1): delete the exact msg_ids named, in the mailboxes described. Items that are not
// well-formed are counted as ignored (idempotent, like unknown ids). Never re-propagated from here: the node that
// saw the claim fans acks out itself. Engineer C adds the recipient's signed-poll proof check here (issue 8).
import type { InboundPeerRequest, InboundPeerResponse } from '../ports/peer.js';
import type { PeerRouteSpec } from '../protocol/peer-routes.js';
import type { PeerContext } from './context.js';
import { descriptorOf } from './mailbox-descriptor.js';
import { admitPeerRequest, isResponse } from './preamble.js';
import { refuse, reply } from './reply.js';
import { ackBody, ackItem, check } from '../protocol/peer-schemas.js';

export async function dmAck(ctx: PeerContext, spec: PeerRouteSpec, req: InboundPeerRequest): Promise<InboundPeerResponse> {
  const pre = admitPeerRequest(ctx, spec, req);
  if (isResponse(pre)) return pre;
  const body = check(ackBody, pre.value);
  if (!body.ok) return refuse(200, body.reason);
  let removed = 0;
  let ignored = 0;
  for (const raw of body.value.acks) {
    const item = check(ackItem, raw);
    const msgId = item.ok ? item.value.msg_id.trim() : '';
    if (!item.ok || !msgId) {
      ignored++;
      continue;
    }
    if (await ctx.deps.mailboxes.applyAck(msgId, descriptorOf(item.value))) removed++;
    else ignored++;
  }
  return reply(200, { ok: true, removed, ignored });
}
