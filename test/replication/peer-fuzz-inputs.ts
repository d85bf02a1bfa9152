// Seeded generator of hostile peer requests (issue 8 item 5 fuzz): valid bodies of every peer route, mutated field by
// field with values that broke hand-written checks before (objects with toString/valueOf, arrays, nulls, huge numbers,
// lone surrogates, __proto__ keys, deep nesting), plus non-JSON, invalid UTF-8, unsigned and mis-signed requests.
// Most are signed with a valid HMAC so they get past authentication and reach the route's own checks.
import { derivePeerKey, peerMac } from '../../protocol/peer-auth.js';
import { normalizePeerUrl } from '../../protocol/peer-url.js';
import { GENESIS_HASH } from '../../protocol/constants.js';
import { prng } from '../helpers/seeded-random.js';

export interface FuzzRequest {
  method: 'GET' | 'POST';
  path: string;
  body: Buffer;
  headers: Record<string, string>;
}

const WEIRD: unknown[] = [
  null, true, false, 0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 1, '', ' ', 'x', 'ü', '\u0000', '\ud800', 'a'.repeat(3000),
  { toString: 1 }, { valueOf: 1 }, { toJSON: 1 }, { length: 1e9 }, [], [1], [[[]]], ['a', { b: 1 }], { a: { b: { c: {} } } },
  { constructor: { prototype: { x: 1 } } }, GENESIS_HASH, 'request', 'shared', 'self',
];

export interface FuzzContext {
  peer: string;
  secret: string;
  /** A few real chain events (wire form) to mutate for peer-push. */
  events: unknown[];
  tokens: readonly string[];
  recipients: readonly string[];
}

/** All `count` requests at once (small runs). */
export function fuzzRequests(seed: number, count: number, ctx: FuzzContext): FuzzRequest[] {
  return [...fuzzStream(seed, count, ctx)];
}

/** The same requests one at a time, so a 1,000,000-input run never holds them all. */
export function* fuzzStream(seed: number, count: number, ctx: FuzzContext): Generator<FuzzRequest> {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  // Fresh copies (mutations must not leak between requests); JSON round trips are cheap for these small values.
  const copy = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;
  const weirdText = WEIRD.map((w) => JSON.stringify(w));
  const weird = (): unknown => (rnd() < 0.02 ? nest(1 + Math.floor(rnd() * 500)) : JSON.parse(pick(weirdText)));
  const nest = (depth: number): unknown => JSON.parse('['.repeat(depth) + ']'.repeat(depth));

  const mutate = (o: Record<string, unknown>): Record<string, unknown> => {
    const out = { ...o };
    const keys = Object.keys(out);
    const n = 1 + Math.floor(rnd() * 3);
    for (let i = 0; i < n; i++) {
      const r = rnd();
      if (r < 0.6 && keys.length) out[pick(keys)] = weird();
      else if (r < 0.8 && keys.length) delete out[pick(keys)];
      else out[pick(['extra', '__proto__', 'constructor', 'ok', 'detail'])] = weird();
    }
    return out;
  };
  const maybe = (o: Record<string, unknown>): Record<string, unknown> => (rnd() < 0.75 ? mutate(o) : o);

  const envelope = (): Record<string, unknown> => {
    const shared = rnd() < 0.6;
    return maybe({
      msg_id: `fz-${Math.floor(rnd() * 1e9)}`, mailbox_key: 'ignored', sender_id: 'fuzzer', sender_block_ref: `ref-${Math.floor(rnd() * 5)}`,
      sender_seal: '', ciphertext: Buffer.from(`ct-${rnd()}`).toString('base64'), timestamp: 0, relay_salt: '', payload_format: 'dm1',
      session_welcome: '', delivery_class: shared ? 'shared' : 'request',
      recipient_id: shared ? '' : pick(ctx.recipients), recipient_token: shared ? pick(ctx.tokens) : '',
    });
  };
  const descriptor = (): Record<string, unknown> => maybe(rnd() < 0.5
    ? { delivery_class: 'shared', recipient_token_hash: 'ab'.repeat(32) }
    : { delivery_class: 'request', recipient_id: pick(ctx.recipients) });

  const bodies: Array<[string, () => unknown]> = [
    ['/api/mesh/dm/replicate-envelope', () => maybe({ envelope: envelope() })],
    ['/api/mesh/dm/replicate-envelopes', () => maybe({ envelopes: Array.from({ length: Math.floor(rnd() * 6) }, envelope) })],
    ['/api/mesh/infonet/peer-push', () => maybe({ events: Array.from({ length: Math.floor(rnd() * 4) }, () => (ctx.events.length && rnd() < 0.8 ? mutate(copy(pick(ctx.events)) as Record<string, unknown>) : weird())) })],
    ['/api/mesh/dm/ack', () => maybe({ acks: Array.from({ length: Math.floor(rnd() * 4) }, () => ({ ...descriptor(), msg_id: rnd() < 0.8 ? `fz-${Math.floor(rnd() * 1e9)}` : weird() })) })],
    ['/api/mesh/dm/pull', () => maybe({ mailboxes: Array.from({ length: Math.floor(rnd() * 4) }, descriptor) })],
    ['/api/mesh/infonet/sync', () => maybe({ protocol_version: 'infonet/2', locator: [GENESIS_HASH], limit: 5, unredacted: true })],
  ];

  // One key derivation for the run (signPeerRequest would derive it per request).
  const peerUrl = normalizePeerUrl(ctx.peer);
  const key = derivePeerKey(ctx.secret, peerUrl);
  for (let i = 0; i < count; i++) {
    if (rnd() < 0.05) {
      const q = new URLSearchParams();
      for (const k of ['after_hash', 'limit', 'expected_head', 'protocol_version']) if (rnd() < 0.5) q.set(k, JSON.stringify(pick(WEIRD)) ?? '');
      yield { method: 'GET', path: `/api/mesh/infonet/sync?${q}`, body: Buffer.alloc(0), headers: {} };
      continue;
    }
    // Sync answers read the chain (the slowest route); it gets a smaller share so 20,000 inputs stay fast.
    const [path, make] = rnd() < 0.06 ? bodies[5] : pick(bodies.slice(0, 5));
    const r = rnd();
    let text: string;
    let body: Buffer;
    if (r < 0.04) {
      body = Buffer.from(Array.from({ length: Math.floor(rnd() * 64) }, () => Math.floor(rnd() * 256)));
    } else {
      text = r < 0.08 ? JSON.stringify(weird()) : r < 0.1 ? `{"__proto__":${JSON.stringify(weird())},"envelope":{"__proto__":{"msg_id":"p"}}}` : JSON.stringify(make());
      body = Buffer.from(text, 'utf8');
    }
    const s = rnd();
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (s < 0.9) Object.assign(headers, { 'x-peer-url': peerUrl, 'x-peer-hmac': peerMac(key, body) });
    else if (s < 0.95) Object.assign(headers, { 'x-peer-url': ctx.peer, 'x-peer-hmac': 'ab'.repeat(32) });
    yield { method: 'POST', path, body, headers };
  }
}
