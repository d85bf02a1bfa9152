// Appendix D: the public payload schemas (T75–T80) on append, ingest and `chain validate`, the
// original's value semantics they rest on, and received literal forms (5.0, true) kept for event ids.
import { createHash } from 'node:crypto';
import { validateChain } from '../../protocol/chain-validator.js';
import { GENESIS_HASH, NETWORK_ID, PROTOCOL_VERSION } from '../../protocol/constants.js';
import { chainToWireJson, type ChainEvent, type Payload } from '../../protocol/event.js';
import { parseEventsJson } from '../../protocol/lossless-json.js';
import { parseJsonBody } from '../../peer/reply.js';
import { normalizePublicPayload, validatePublicSchema } from '../../protocol/public-payload.js';
import { cutCodePoints, isPyBlank, pyEquals, pyInt, pyNum, pyStrip } from '../../protocol/python-values.js';
import { pythonFloatRepr } from '../../protocol/python-float.js';
import { signaturePayload } from '../../protocol/signature-payload.js';
import { signEd25519 } from '../../protocol/signatures.js';
import { ctxAt, K1, M, newIdentity, NodePool, rawEvent, rejection, T0 } from './helpers.js';

const pool = new NodePool();
afterAll(() => pool.cleanup());

const EMOJI = '\u{1F600}';
const vote = (v: unknown): Record<string, unknown> => ({ target_id: 'msg-1', vote: v, gate: 'ops-gate' });
const stake = (amount: unknown): Record<string, unknown> => ({ message_id: 'm1', poster_id: 'p1', side: 'yes', amount, duration_days: 7 });
const gateCreate = (name: string): Record<string, unknown> => ({ gate_id: 'ops-gate', display_name: name, rules: {} });
const abuse = (reason: string): Record<string, unknown> => ({ target_id: 't1', reason, gate: '', evidence: '' });

/** Append through the public route of a fresh node and return the rejection reason, or 'ok'. */
async function appendReason(type: string, payload: Record<string, unknown>): Promise<string> {
  const node = await pool.fresh();
  try {
    await node.chain.appendLocal(K1, type, payload, 1);
    return 'ok';
  } catch (e) {
    return (await rejection(Promise.reject(e))).reason;
  }
}

/** Ingest one hand-built event (stored verbatim, signed over its normalised form) and return the reason, or 'ok'. */
async function ingestReason(type: string, payload: Record<string, unknown>): Promise<string> {
  const node = await pool.fresh();
  let signed: Payload = payload as Payload;
  try { signed = normalizePublicPayload(type, payload); } catch { /* unknown type: sign as given */ }
  const ev = rawEvent({ id: K1, type, payload, sequence: 1, prevHash: GENESIS_HASH, timestamp: T0, signed });
  const o = await node.chain.ingest([ev], 0);
  return o.accepted === 1 ? 'ok' : o.rejected[0].reason;
}

describe('Appendix D public schemas', () => {
  test('T75 message priority: "urgent" is rejected on append and ingest; the four allowed ones are accepted', async () => {
    expect(await appendReason('message', { ...M('hi'), priority: 'urgent' })).toBe('Invalid priority');
    expect(await ingestReason('message', { ...M('hi'), priority: 'urgent' })).toBe('Invalid priority');
    for (const p of ['normal', 'high', 'emergency', 'low']) {
      expect(await appendReason('message', { ...M('hi'), priority: p })).toBe('ok');
      expect(await ingestReason('message', { ...M('hi'), priority: p })).toBe('ok');
    }
  });

  test('T76 a vote of 2 is rejected (Invalid vote); -1 and 1 are accepted', async () => {
    expect(await appendReason('vote', vote(2))).toBe('Invalid vote');
    expect(await ingestReason('vote', vote(2))).toBe('Invalid vote');
    expect(await ingestReason('vote', vote(0))).toBe('Invalid vote');
    for (const v of [-1, 1]) {
      expect(await appendReason('vote', vote(v))).toBe('ok');
      expect(await ingestReason('vote', vote(v))).toBe('ok');
    }
  });

  test('T77 an over-long gate_create display_name or a stake with an extra key is not normalized on ingest', async () => {
    expect(await ingestReason('gate_create', gateCreate('x'.repeat(65)))).toBe('Payload is not normalized');
    expect(await ingestReason('gate_create', gateCreate('x'.repeat(64)))).toBe('ok');
    expect(await ingestReason('stake', { ...stake(5), extra: 1 })).toBe('Payload is not normalized');
    expect(await ingestReason('stake', stake(5))).toBe('ok');
    // On append the same inputs are normalised (cut / projected) and then accepted.
    expect(await appendReason('gate_create', gateCreate('x'.repeat(65)))).toBe('ok');
    expect(await appendReason('stake', { ...stake(5), extra: 1 })).toBe('ok');
  });

  test('T78 an abuse_report with a blank reason is rejected; a reason of only U+FEFF is accepted', async () => {
    expect(await appendReason('abuse_report', abuse('  \t'))).toBe('reason cannot be empty');
    expect(await ingestReason('abuse_report', abuse('\u001f\u0085'))).toBe('reason cannot be empty');
    expect(await ingestReason('abuse_report', abuse(''))).toBe('reason cannot be empty');
    expect(await ingestReason('abuse_report', abuse('\ufeff'))).toBe('ok');
    expect(await appendReason('abuse_report', abuse('\u200b'))).toBe('ok');
  });

  test('T80 gate_create.display_name of 64 emoji is accepted (64 code points), 65 is not normalized', async () => {
    expect(await ingestReason('gate_create', gateCreate(EMOJI.repeat(64)))).toBe('ok');
    expect(await ingestReason('gate_create', gateCreate(EMOJI.repeat(65)))).toBe('Payload is not normalized');
    expect(await ingestReason('abuse_report', abuse(EMOJI.repeat(280)))).toBe('ok');
    expect(await ingestReason('abuse_report', abuse(EMOJI.repeat(281)))).toBe('Payload is not normalized');
  });

  test('fork events pass the same schemas (a vote of 2 in a fork is refused; a vote of true is applied)', async () => {
    const node = await pool.fresh();
    await node.chain.appendLocal(K1, 'message', M('base'));
    const [base] = await node.chain.readRange(0, 1);
    const author = newIdentity();
    const bad = rawEvent({ id: author, type: 'vote', payload: vote(2), signed: vote(2), sequence: 1, prevHash: base.event_id, timestamp: T0 });
    expect(await node.chain.applyFork([bad], bad.event_id, 2, 2)).toEqual({ ok: false, reason: 'Invalid vote' });
    const good = rawEvent({ id: author, type: 'vote', payload: vote(true), signed: vote(1), sequence: 1, prevHash: base.event_id, timestamp: T0 });
    const next = rawEvent({ id: author, type: 'vote', payload: vote(-1), sequence: 2, prevHash: good.event_id, timestamp: T0 });
    expect(await node.chain.applyFork([good, next], next.event_id, 2, 2)).toEqual({ ok: true, reason: 'applied' });
    expect(node.chain.length).toBe(3);
  });

  test('the other own checks and their order (Appendix D steps 2–5, then §2.8 step 6)', async () => {
    expect(await ingestReason('message', { ...M('hi'), ephemeral: 1 })).toBe('ephemeral must be boolean');
    expect(await ingestReason('message', { ...M('hi'), destination: ' Broadcast\t' })).toBe('ok');
    expect(await ingestReason('message', { ...M('hi'), destination: 'node-b' })).toBe('public message destination must be broadcast');
    expect(await ingestReason('message', { ...M('hi'), transport_lock: 'private' })).toBe('public ledger payload contains forbidden fields: transport_lock');
    expect(await ingestReason('message', { ...M('hi'), ip: '1.2.3.4' })).toBe('Payload is not normalized');
    expect(await ingestReason('vote', { ...vote(1), ephemeral: false })).toBe('Payload is not normalized');
    expect(await ingestReason('vote', { ...vote(1), vote: '1' })).toBe('Payload is not normalized');
    const revoke = { revoked_public_key: K1.publicKey, revoked_public_key_algo: K1.publicKeyAlgo, revoked_at: 0, grace_until: 0, reason: 'lost' };
    expect(await ingestReason('key_revoke', revoke)).toBe('revoked_at must be a positive timestamp');
    expect(await ingestReason('key_revoke', { ...revoke, revoked_at: T0, grace_until: T0 - 1 })).toBe('grace_until must be >= revoked_at');
    expect(await ingestReason('key_revoke', { ...revoke, revoked_at: T0, grace_until: T0 + 60 })).toBe('ok');
    expect(await ingestReason('prediction', { market_title: 'rain', side: 'yes', stake_amount: 2.5 })).toBe('ok');
    expect(validatePublicSchema('not_a_type', {})?.reason).toBe('Unknown event_type');
  });
});

/** One wire event whose payload is given as literal JSON text (what a chain written by the original holds). */
function wireEvent(type: string, payloadText: string, seq: number, prev: string): { text: string; id: string } {
  const payload = JSON.parse(payloadText) as Payload;
  const signature = signEd25519(K1.privateKey, signaturePayload(type, K1.nodeId, seq, normalizePublicPayload(type, payload)));
  const ts = pythonFloatRepr(T0);
  const id = createHash('sha256').update(`${prev}:${type}:${K1.nodeId}:${payloadText}:${ts}:${seq}:${NETWORK_ID}`).digest('hex');
  const fields: Record<string, string> = {
    event_id: JSON.stringify(id), event_type: JSON.stringify(type), network_id: JSON.stringify(NETWORK_ID), node_id: JSON.stringify(K1.nodeId),
    payload: payloadText, prev_hash: JSON.stringify(prev), protocol_version: JSON.stringify(PROTOCOL_VERSION), public_key: JSON.stringify(K1.publicKey),
    public_key_algo: JSON.stringify(K1.publicKeyAlgo), sequence: String(seq), signature: JSON.stringify(signature), timestamp: ts,
  };
  return { text: '{' + Object.keys(fields).sort().map((k) => `"${k}":${fields[k]}`).join(',') + '}', id };
}

describe('received literal forms survive (Appendix D)', () => {
  const stakeText = '{"amount":5.0,"duration_days":7,"message_id":"m1","poster_id":"p1","side":"yes"}';
  const voteText = '{"gate":"ops-gate","target_id":"m1","vote":true}';
  const e1 = wireEvent('stake', stakeText, 1, GENESIS_HASH);
  const e2 = wireEvent('vote', voteText, 2, e1.id);
  const fileText = `[\n${e1.text},\n${e2.text}\n]`;

  test('T79 a chain with stake amount 5.0 and vote true validates, and re-serialising keeps 5.0 and true', async () => {
    const events = parseEventsJson(fileText) as unknown[];
    const verdict = validateChain(events, ctxAt(T0));
    expect(verdict).toMatchObject({ valid: true, count: 2, head: e2.id });
    // Plain JSON.parse loses the float literal, and with it the event id.
    const lossy = validateChain(JSON.parse(fileText) as unknown[], ctxAt(T0));
    expect(lossy.valid === false && lossy.rejection.reason).toBe('event_id mismatch');
    // Ingest, export, reopen the store, export again: byte-identical to the input.
    const node = await pool.fresh();
    expect((await node.chain.ingest(events, 0)).accepted).toBe(2);
    expect(chainToWireJson(await node.chain.readRange(0, 10))).toBe(fileText);
    await node.close();
    const reopened = await pool.open(node.dir);
    expect(chainToWireJson(await reopened.chain.readRange(0, 10))).toBe(fileText);
    expect(reopened.chain.head).toBe(e2.id);
  });

  test('peer bodies (HTTP push / sync replies) are read keeping the literals', () => {
    const body = parseJsonBody(Buffer.from(`{"events":${fileText}}`));
    expect(body.ok).toBe(true);
    const events = (body as { value: { events: unknown[] } }).value.events;
    expect(validateChain(events, ctxAt(T0))).toMatchObject({ valid: true, count: 2 });
  });

  test('property: parseEventsJson agrees with JSON.parse on random JSON, and literals re-print as written', () => {
    let seed = 11;
    const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
    const atoms = ['0', '-1', '5.0', '2.50', '1e3', '-0.0', '"a\\"b"', '"5.0"', 'true', 'false', 'null', '12345678901234567', '"\\u00e9\u{1F600}"'];
    const gen = (depth: number): string => {
      const k = depth > 3 ? 0 : rnd(3);
      if (k === 0) return atoms[rnd(atoms.length)];
      if (k === 1) return '[' + Array.from({ length: rnd(4) }, () => gen(depth + 1)).join(',') + ']';
      return '{' + Array.from({ length: rnd(4) }, (_, i) => `"k${rnd(5)}${i}":${gen(depth + 1)}`).join(',') + '}';
    };
    for (let i = 0; i < 300; i++) {
      const text = gen(0);
      expect(parseEventsJson(text)).toEqual(JSON.parse(text));
      const ev = parseEventsJson(`{"event_type":"x","payload":{"v":${text}}}`) as { payload: unknown; payload_literal?: string };
      expect(ev.payload).toEqual({ v: JSON.parse(text) });
      if (ev.payload_literal !== undefined) expect(JSON.parse(ev.payload_literal)).toEqual(ev.payload);
    }
  });

  test('a payload_literal that does not describe the payload is not trusted', () => {
    const events = parseEventsJson(fileText) as Array<ChainEvent & Record<string, unknown>>;
    events[0].payload_literal = stakeText.replace('5.0', '6.0');
    const verdict = validateChain(events, ctxAt(T0));
    expect(verdict.valid === false && verdict.rejection.reason).toBe('event_id mismatch');
    // Nor one that is not in the original's canonical form, even when the id was computed over it.
    const odd = wireEvent('stake', stakeText.replace('5.0', '5.00'), 1, GENESIS_HASH);
    const oddVerdict = validateChain(parseEventsJson(`[${odd.text}]`) as unknown[], ctxAt(T0));
    expect(oddVerdict.valid === false && oddVerdict.rejection.reason).toBe('event_id mismatch');
  });

  test('parseEventsJson is JSON.parse apart from payload literals', () => {
    const text = '{"a":[1,2.5,"x\\"1.0"],"b":{"__proto__":1,"c":null,"d":true}}';
    expect(parseEventsJson(text)).toEqual(JSON.parse(text));
    const withFloat = '[{"event_type":"stake","payload":{"amount":5.0,"big":12345678901234567890,"n":-0.0,"e":1e16},"timestamp":1.0}]';
    const [ev] = parseEventsJson(withFloat) as Array<Record<string, unknown>>;
    expect(ev.payload).toEqual({ amount: 5, big: 12345678901234567890, n: -0, e: 1e16 });
    expect(ev.payload_literal).toBe('{"amount":5.0,"big":12345678901234567890,"e":1e+16,"n":-0.0}');
    expect(ev.timestamp).toBe(1);
    for (const bad of ['[1,]', '{"a":1', '01', '"\\x"', '[1.]']) expect(() => parseEventsJson(bad + ' 1.0')).toThrow(SyntaxError);
  });
});

describe("the original's value semantics", () => {
  test('int / num conversions and equality', () => {
    expect([pyInt(true), pyInt(false), pyInt(-2.9), pyInt(' 42 '), pyInt('+7'), pyInt('1_000'), pyInt('4.2'), pyInt(null), pyInt('x')]).toEqual([1, 0, -2, 42, 7, 1000, 0, 0, 0]);
    expect([pyNum('2.5'), pyNum(' 1e3 '), pyNum(true), pyNum('x'), pyNum(-0)]).toEqual([2.5, 1000, 1, 0, 0]);
    expect(pyEquals(true, 1) && pyEquals(false, 0) && pyEquals(5, 5.0) && pyEquals({ a: [true] }, { a: [1] })).toBe(true);
    expect(pyEquals('5', 5) || pyEquals({ a: 1 }, { a: 1, b: 2 }) || pyEquals(null, 0) || pyEquals([], {})).toBe(false);
  });

  test('whitespace set, strip and code-point cuts', () => {
    expect(isPyBlank('\t\n\u000b\u000c\r\u001c\u001d\u001e\u001f \u0085\u00a0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000')).toBe(true);
    expect(isPyBlank('\ufeff') || isPyBlank('\u200b')).toBe(false);
    expect(pyStrip('\u0085 x \u001f')).toBe('x');
    expect(cutCodePoints(EMOJI.repeat(3) + 'ab', 4)).toBe(EMOJI.repeat(3) + 'a');
  });

  test('property: every normalised public payload is a fixed point that passes the fixed-point check', () => {
    const values: unknown[] = ['', ' x ', 'LongFast', 'high', 0, 1, -1, 2.5, true, false, null, [1], { a: 1 }, EMOJI.repeat(70), '12', ' -3 '];
    const keys = ['message', 'destination', 'channel', 'priority', 'ephemeral', 'target_id', 'vote', 'gate', 'gate_id', 'display_name', 'rules',
      'market_title', 'side', 'stake_amount', 'message_id', 'poster_id', 'amount', 'duration_days', 'reason', 'evidence', 'revoked_at', 'extra'];
    let seed = 7;
    const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
    for (let i = 0; i < 400; i++) {
      const type = ['message', 'vote', 'gate_create', 'prediction', 'stake', 'abuse_report', 'key_rotate', 'key_revoke'][i % 8];
      const raw: Record<string, unknown> = {};
      for (let k = rnd(6); k > 0; k--) raw[keys[rnd(keys.length)]] = values[rnd(values.length)];
      const n = normalizePublicPayload(type, raw);
      expect(normalizePublicPayload(type, n)).toEqual(n);
      expect(validatePublicSchema(type, n)?.reason).not.toBe('Payload is not normalized');
    }
  });
});
