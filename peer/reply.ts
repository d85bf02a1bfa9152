// Reply shapes of the peer routes (spec §8.4, §9.4, Appendix C): `{status, json, body}` where body is the exact JSON
// text a listener sends (sync pages are written with servedEventToWireJson so legacy integer timestamps stay integer
// literals, §2.5).
import type { HeaderMap, InboundPeerResponse } from '../ports/peer.js';
import { bodyLimitText, type PeerRouteSpec } from '../protocol/peer-routes.js';
import { servedEventToWireJson, type ServedEvent } from '../protocol/public-redaction.js';
import { parseEventsJson } from '../protocol/lossless-json.js';

export const reply = (status: number, json: unknown, headers?: Record<string, string>): InboundPeerResponse => ({
  status, json, body: JSON.stringify(json), ...(headers ? { headers } : {}),
});

/** `{ok:false, detail}` with the given status (200 for the spec's in-band refusals). */
export const refuse = (status: number, text: string, extra: Record<string, unknown> = {}): InboundPeerResponse =>
  reply(status, { ok: false, detail: text, ...extra });

export const tooLarge = (spec: Pick<PeerRouteSpec, 'maxBytes'>): InboundPeerResponse => refuse(413, bodyLimitText(spec.maxBytes));

/** First value of a header, case-insensitively. */
export function header(headers: HeaderMap, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() !== name || v === undefined) continue;
    return typeof v === 'string' ? v : v[0];
  }
  return undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The body as JSON, or not-ok when it is not valid UTF-8 JSON (→ 400 `Invalid JSON body`). `events` (bodies that may
 * hold chain events): parseEventsJson, so received events keep payload float literals (5.0) for their ids (Appendix
 * D). `plain` (the DM replication routes, whose envelopes hold no chain events): JSON.parse — the lossless parser's
 * string scan was ~7 % of a receiver's CPU per envelope (issue 14), every envelope's float timestamp sending each
 * body down its slow path.
 */
export function parseJsonBody(body: Uint8Array, json: 'events' | 'plain' = 'events'): { ok: true; value: unknown } | { ok: false } {
  try {
    const text = utf8.decode(body);
    return { ok: true, value: json === 'plain' ? JSON.parse(text) : parseEventsJson(text) };
  } catch {
    return { ok: false };
  }
}

export const INVALID_JSON = (): InboundPeerResponse => refuse(400, 'Invalid JSON body');

/** A sync reply: every key JSON-encoded, except `events`, written event by event in wire form. */
export function syncReply(obj: Record<string, unknown> & { events: ServedEvent[] }): InboundPeerResponse {
  const parts = Object.entries(obj).map(([k, v]) =>
    `${JSON.stringify(k)}:${k === 'events' ? `[${(v as ServedEvent[]).map(servedEventToWireJson).join(',')}]` : JSON.stringify(v)}`);
  return { status: 200, json: obj, body: `{${parts.join(',')}}` };
}
