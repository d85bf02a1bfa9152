// A bus peer reply hands on the answer's exact JSON text (transports/bus-peer-protocol.ts), so a sync page read
// over the bus is parsed like an HTTP one: payload number literals (Appendix D) survive, and no JSON.parse +
// JSON.stringify round trip happens per page (issue 14).
import { encode } from '../../bus/codec.js';
import { parseEventsJson } from '../../protocol/lossless-json.js';
import { decodeBusPeerReply } from '../../transports/bus-peer-protocol.js';

describe('bus peer reply', () => {
  test('keeps the answer text verbatim; a float payload literal survives the sync parse', () => {
    const text = '{"ok":true,"events":[{"event_type":"message","event_id":"e1","node_id":"n1","signature":"s1","payload":{"amount":5.0}}],"count":1}';
    const r = decodeBusPeerReply(encode({ status: 200, body: text }), 'nats://peer');
    expect(r).toEqual({ status: 200, text });
    const page = parseEventsJson(r.text!) as { events: Array<Record<string, unknown>> };
    expect(page.events[0].payload_literal).toBe('{"amount":5.0}');
  });

  test('a reply that carried decoded JSON (no text) keeps it; Retry-After is passed on', () => {
    expect(decodeBusPeerReply(encode({ status: 429, json: { ok: false }, retry_after: '30' }), 'nats://peer'))
      .toEqual({ status: 429, json: { ok: false }, retry_after: '30' });
  });

  test('a malformed reply is an UNAVAILABLE error', () => {
    expect(() => decodeBusPeerReply(encode({ nope: 1 }), 'nats://peer')).toThrow(/malformed bus reply/);
  });
});
