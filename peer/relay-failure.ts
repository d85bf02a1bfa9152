// A typed mailbox refusal (InfonetError) becomes the spec's in-band answer: 200 `{ok:false, detail, ...details}`.
// Anything else is a bug and propagates (the application answers 500 and logs it).
import type { InboundPeerResponse } from '../ports/peer.js';
import { isInfonetError } from '../protocol/errors.js';
import { reply } from './reply.js';

export function relayFailure(e: unknown): InboundPeerResponse {
  if (!isInfonetError(e)) throw e;
  return reply(200, { ok: false, detail: e.reason, ...(e.details ?? {}) });
}
