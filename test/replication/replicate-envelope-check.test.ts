// The batch and single replicate routes check envelopes with a fast path (protocol/peer-schemas.ts checkEnvelope,
// issue 14) that must agree with the zod schema exactly: same verdict, same refusal reason, same accepted value —
// over the hostile fuzz corpus of the peer routes plus hand-picked edge cases.
import { check, checkEnvelope, envelopeSchema } from '../../protocol/peer-schemas.js';
import { fuzzStream } from './peer-fuzz-inputs.js';

function envelopesOf(body: Buffer): unknown[] {
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    return [];
  }
  if (!v || typeof v !== 'object') return [];
  const o = v as Record<string, unknown>;
  return [...(Array.isArray(o.envelopes) ? o.envelopes : []), ...(Object.hasOwn(o, 'envelope') ? [o.envelope] : [])];
}

test('checkEnvelope agrees with check(envelopeSchema) on the fuzz corpus and edge cases', () => {
  const ctx = { peer: 'http://p:1', secret: 's', events: [], tokens: ['t'], recipients: ['r'] };
  const items: unknown[] = [];
  for (const r of fuzzStream(7, 20_000, ctx)) if (r.path.includes('replicate')) items.push(...envelopesOf(r.body));
  items.push(
    [], {}, null, 'x', 5, { msg_id: 1 }, { msg_id: 1.5 }, { msg_id: '\ud800' }, { ciphertext: 'a\udc00' }, { timestamp: 'x' },
    { timestamp: true }, { timestamp: null }, { sender_proof: [] }, { sender_proof: null }, { sender_proof: { public_key: 'a', signature: 'b', x: 1 } },
    { sender_proof: { public_key: 'a' } }, { ciphertext: { toString: 1 } }, Object.create(null), JSON.parse('{"__proto__":{"msg_id":"p"},"msg_id":"q"}'),
  );
  let fast = 0;
  for (const x of items) {
    const want = check(envelopeSchema, x, 'envelope');
    const got = checkEnvelope(x);
    expect(got.ok).toBe(want.ok);
    if (!want.ok && !got.ok) expect(got.reason).toBe(want.reason);
    if (want.ok && got.ok) expect(got.value).toEqual(want.value);
    if (got.ok && got.value === x) fast++;
  }
  expect(items.length).toBeGreaterThan(1000);
  expect(fast).toBeGreaterThan(0);
});
