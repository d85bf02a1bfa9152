// POST /api/mesh/dm/pull (§10.2): pending envelopes of the described mailboxes, at most PULL_MAX_ENVELOPES in one
// answer. Items that are not objects are skipped. Issue 8: the body carries `proof`, the recipient's signed poll;
// only mailboxes that proof covers are answered (docs/mailbox-access.md), so a peer cannot list other mailboxes.
import type { InboundPeerRequest, InboundPeerResponse } from '../ports/peer.js';
import { PULL_MAX_ENVELOPES, type PeerRouteSpec } from '../protocol/peer-routes.js';
import type { PeerContext } from './context.js';
import { descriptorOf } from './mailbox-descriptor.js';
import { admitPeerRequest, isResponse } from './preamble.js';
import { refuse, reply } from './reply.js';
import { check, mailboxDescriptor, pullBody } from '../protocol/peer-schemas.js';

export async function dmPull(ctx: PeerContext, spec: PeerRouteSpec, req: InboundPeerRequest): Promise<InboundPeerResponse> {
  const pre = admitPeerRequest(ctx, spec, req);
  if (isResponse(pre)) return pre;
  const body = check(pullBody, pre.value);
  if (!body.ok) return refuse(200, body.reason);
  const envelopes: unknown[] = [];
  const proof = (body.value as { proof?: unknown }).proof;
  for (const raw of body.value.mailboxes) {
    const box = check(mailboxDescriptor, raw);
    if (!box.ok || envelopes.length >= PULL_MAX_ENVELOPES) continue;
    envelopes.push(...(await ctx.deps.mailboxes.pendingEnvelopes(descriptorOf(box.value), PULL_MAX_ENVELOPES - envelopes.length, proof)));
  }
  return reply(200, { ok: true, envelopes, count: envelopes.length });
}
