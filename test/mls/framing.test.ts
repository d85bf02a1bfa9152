// §11.5 buckets and length prefix, SBP1 DM plaintext, §11.6 sender_ref, §11.7 Welcome seal.
import { createHmac } from 'node:crypto';
import {
  bucketFor, frameForGate, padToBucket, parseGateCiphertext, senderRef, unpadBucket, unwrapDmPlaintext, wrapDmPlaintext,
  PADDING_BUCKETS, GATE_EVENT_BUCKET,
} from '../../protocol/mls-framing.js';
import { generateWelcomeKeypair, sealWelcome, unsealWelcome } from '../../protocol/welcome-seal.js';
import { validateGateLedgerPayload } from '../../protocol/gate-payload.js';

describe('§11.5 padding buckets', () => {
  test('every framed length lands on a bucket size; the prefix round-trips', () => {
    const seen = new Set<number>();
    for (let n = 0; n <= 13000; n += 97) {
      const data = new Uint8Array(n).fill(7);
      const padded = padToBucket(data);
      seen.add(padded.length);
      expect(padded.length).toBe(bucketFor(n + 2));
      expect(Buffer.compare(Buffer.from(unpadBucket(padded)), Buffer.from(data))).toBe(0);
    }
    for (const s of seen) expect([...PADDING_BUCKETS, 12288, 18432].includes(s as never)).toBe(true);
    expect(bucketFor(190)).toBe(192);
    expect(bucketFor(193)).toBe(384);
    expect(bucketFor(6145)).toBe(12288);
  });

  test('a non-bucket or overlong prefix is refused with a typed error', () => {
    expect(() => unpadBucket(new Uint8Array(100))).toThrow(/not a padding bucket/);
    const p = padToBucket(new Uint8Array(10));
    p[0] = 0xff;
    expect(() => unpadBucket(p)).toThrow(/length prefix/);
  });

  test('gate frames: small messages whole, large ones fragmented, every event one ≤1536 bucket and a valid gate payload', () => {
    for (const size of [10, 300, 1500, 5000, 20000]) {
      const msg = new Uint8Array(size).map((_, i) => (i * 31) & 0xff);
      const frames = frameForGate(msg);
      const parts: Uint8Array[] = [];
      for (const f of frames) {
        const raw = Buffer.from(f.slice(5), 'base64');
        expect(PADDING_BUCKETS.includes(raw.length as never)).toBe(true);
        expect(raw.length).toBeLessThanOrEqual(GATE_EVENT_BUCKET);
        const u = parseGateCiphertext(f);
        parts.push(u.kind === 'whole' ? u.message : u.bytes);
        expect(validateGateLedgerPayload({ gate: 'g', ciphertext: f, nonce: Buffer.alloc(12, 1).toString('base64'), sender_ref: 'abcd', format: 'mls1', epoch: 1, transport_lock: 'private_strong' })).toBeNull();
      }
      expect(Buffer.compare(Buffer.concat(parts), Buffer.from(msg))).toBe(0);
      expect(frames.length).toBe(size <= 1533 ? 1 : Math.ceil(size / 1513));
    }
  });

  test('SBP1 wrapping: multiples of 512, bounded', () => {
    const w = wrapDmPlaintext(new TextEncoder().encode('hi'));
    expect(w.length).toBe(512);
    expect(Buffer.from(w.subarray(0, 4)).toString()).toBe('SBP1');
    expect(new TextDecoder().decode(unwrapDmPlaintext(w))).toBe('hi');
    expect(wrapDmPlaintext(new Uint8Array(505)).length).toBe(1024);
    expect(() => wrapDmPlaintext(new Uint8Array(65537))).toThrow(/exceeds/);
  });
});

test('§11.6 sender_ref = first 16 hex of HMAC-SHA256(persona id, message id)', () => {
  expect(senderRef('alice', 'm1')).toBe(createHmac('sha256', 'alice').update('m1').digest('hex').slice(0, 16));
  expect(senderRef('alice', 'm1')).toHaveLength(16);
});

test('§11.7 Welcome seal: only the welcome_dh key opens it; tampering is detected', () => {
  const k = generateWelcomeKeypair();
  const other = generateWelcomeKeypair();
  const sealed = sealWelcome(new TextEncoder().encode('welcome bytes'), k.publicHex);
  expect(new TextDecoder().decode(unsealWelcome(sealed, k.privateHex))).toBe('welcome bytes');
  expect(() => unsealWelcome(sealed, other.privateHex)).toThrow(/cannot open/);
  const t = Buffer.from(sealed);
  t[50] ^= 1;
  expect(() => unsealWelcome(t, k.privateHex)).toThrow(/cannot open/);
  expect(() => sealWelcome(new Uint8Array(4), 'zz')).toThrow(/welcome_dh_pub/);
});
