import fc from 'fast-check';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  decode,
  decodeReply,
  decodeRequest,
  encode,
  encodeForSend,
  replyEnvelope,
  requestTyped,
  toReply,
} from '../../bus/codec.js';
import { ErrorCodes, InfonetError } from '../../protocol/errors.js';
import { startServer, stopAll } from '../helpers/nats.js';

describe('codec', () => {
  it('round-trips plain data', () => {
    const v = { a: 1, b: 'x', c: [true, null, 1.5], d: new Uint8Array([1, 2, 3]), e: { nested: -7 }, big: 2n ** 60n };
    const back = decode(encode(v)) as typeof v;
    expect(back.a).toBe(1);
    expect(back.c).toEqual([true, null, 1.5]);
    expect(Buffer.from(back.d).equals(Buffer.from([1, 2, 3]))).toBe(true);
    expect(back.big).toBe(2n ** 60n);
  });

  it('encodeForSend bytes stay intact while later values are packed (no copy, never overwritten)', () => {
    const kept = Array.from({ length: 500 }, (_, i) => ({ v: { i, s: 'x'.repeat(i % 300) }, bytes: encodeForSend({ i, s: 'x'.repeat(i % 300) }) }));
    for (let i = 0; i < 2000; i++) encode({ other: i, pad: 'y'.repeat(i % 500) }); // many slabs' worth of later packs
    for (const k of kept) expect(decode(k.bytes)).toEqual(k.v);
  });

  it('decodeRequest never throws on 1000 random byte strings', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 256 }), (bytes) => {
        const r = decodeRequest(bytes);
        if (!r.ok) {
          expect(r.error).toBeInstanceOf(InfonetError);
          expect(r.error.code).toBe(ErrorCodes.BAD_INPUT);
        }
        const rr = decodeReply(bytes);
        if (!rr.ok) expect(rr.error.code).toBe(ErrorCodes.BAD_INPUT);
      }),
      { numRuns: 1000 },
    );
  });

  it('rejects malformed and non-plain bodies with BAD_INPUT', () => {
    expect(decodeRequest(new Uint8Array([0xc1])).ok).toBe(false); // never-used byte
    expect(decodeRequest(new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff])).ok).toBe(false); // array32 claiming 4G items
    expect(decodeRequest(new Uint8Array(200).fill(0x91)).ok).toBe(false); // deep nesting
    const trailing = new Uint8Array([...encode({ a: 1 }), 0x01]);
    expect(decodeRequest(trailing).ok).toBe(false);
    // a __proto__ key does not pollute prototypes
    const evil = new Uint8Array([0x81, 0xa9, ...Buffer.from('__proto__'), 0x81, 0xa1, 0x78, 0x01]);
    const r = decodeRequest(evil);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    if (r.ok) expect(Object.getPrototypeOf(r.value)).toBe(Object.prototype);
  });

  it('empty body decodes to undefined', () => {
    expect(decodeRequest(new Uint8Array())).toEqual({ ok: true, value: undefined });
  });

  it('builds reply envelopes', () => {
    expect(replyEnvelope({ x: 1 })).toEqual({ ok: true, result: { x: 1 } });
    expect(replyEnvelope(new InfonetError(ErrorCodes.NOT_FOUND, 'no such event', { id: 'e1' }))).toEqual({
      ok: false,
      error: { code: 'not_found', reason: 'no such event', details: { id: 'e1' } },
    });
    expect(replyEnvelope(new Error('boom'))).toEqual({ ok: false, error: { code: 'internal', reason: 'boom' } });
    const d = decodeReply(toReply({ y: 2 }));
    expect(d).toEqual({ ok: true, value: { ok: true, result: { y: 2 } } });
    expect(decodeReply(encode({ hello: 1 })).ok).toBe(false);
  });
});

describe('requestTyped', () => {
  let nc: NatsConnection;
  beforeAll(async () => {
    const srv = await startServer();
    nc = await connect({ servers: srv.clientUrl });
    nc.subscribe('t.ok', { callback: (_e, m) => { m.respond(toReply({ got: decodeRequest(m.data) })); } });
    nc.subscribe('t.err', { callback: (_e, m) => { m.respond(toReply(new InfonetError(ErrorCodes.FORK, 'fork detected', { at: 3 }))); } });
    nc.subscribe('t.garbage', { callback: (_e, m) => { m.respond(new Uint8Array([0xc1])); } });
    nc.subscribe('t.silent', { callback: () => undefined });
    await nc.flush();
  });
  afterAll(async () => {
    await nc?.close();
    await stopAll();
  });

  it('returns the result', async () => {
    await expect(requestTyped(nc, 't.ok', { a: 1 })).resolves.toEqual({ got: { ok: true, value: { a: 1 } } });
  });
  it('throws the remote InfonetError', async () => {
    await expect(requestTyped(nc, 't.err', {})).rejects.toMatchObject({ code: 'fork', reason: 'fork detected', details: { at: 3 } });
  });
  it('throws BAD_INPUT on a malformed reply', async () => {
    await expect(requestTyped(nc, 't.garbage', {})).rejects.toMatchObject({ code: 'bad_input' });
  });
  it('throws TIMEOUT', async () => {
    await expect(requestTyped(nc, 't.silent', {}, 100)).rejects.toMatchObject({ code: 'timeout' });
  });
  it('throws UNAVAILABLE when nobody listens', async () => {
    await expect(requestTyped(nc, 't.nobody', {}, 1000)).rejects.toMatchObject({ code: 'unavailable' });
  });
});
