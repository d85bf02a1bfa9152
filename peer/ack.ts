// POST /api/mesh/dm/ack (§10.1): delete the exact msg_ids named, in the mailboxes described. Items that are not
// well-formed are counted as ignored (idempotent, like unknown ids). Never re-propagated from here: the node that
// saw the claim fans acks out itself. Issue 8: each item carries `proof`, the recipient's signed poll forwarded by
// the polling node; the mailboxes delete only what that proof covers (docs/mailbox-access.md), so an
// authenticated peer can no longer delete other people's mail.
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
    if (await ctx.deps.mailboxes.applyAck(msgId, descriptorOf(item.value), (item.value as { proof?: unknown }).proof)) removed++;
    else ignored++;
  }
  return reply(200, { ok: true, removed, ignored });
}
