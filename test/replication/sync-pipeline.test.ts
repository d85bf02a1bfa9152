// Pipelined catch-up (issue 14, actors/sync-client.ts PagesAhead): the next §9.3 page is asked for while the
// current one is ingested, pages asked for ahead may be bigger (up to the §9.4 server maximum) while a cycle's first
// request stays spec-sized, and a bad event in a page that was asked for ahead still stops the sync at that event. Real HTTP peer on 127.0.0.1, real LevelDB directories.
import { createPeerApplication } from '../../peer/app.js';
import { BUS_READ_AHEAD_LIMIT, chainLocator, ONION_READ_AHEAD_LIMIT, newReadAheadCarry, readAheadLimit, syncFromPeer, type SyncClientOptions } from '../../actors/sync-client.js';
import { buildLocator } from '../../protocol/locator.js';
import { GENESIS_HASH } from '../../protocol/constants.js';
import { generateIdentity } from '../../protocol/identity.js';
import type { PeerCallRequest, PeerCallResponse, PeerPort } from '../../ports/peer.js';
import { HttpPeerTransport, MAX_RESPONSE_BYTES } from '../../transports/loopback-http.js';
import { startPeerHttpServer, type PeerHttpServer } from '../../transports/http-server.js';
import { TransportSet } from '../../transports/transport.js';
import { openFixture, removeTempDirs, type Fixture } from './inbound-helpers.js';

const msg = (text: string) => ({ message: text, destination: 'broadcast', channel: 'LongFast', priority: 'normal', ephemeral: false });

type Closable = { close(): Promise<void> };
const opened: Closable[] = [];
afterEach(async () => {
  for (const o of opened.splice(0)) await o.close();
  removeTempDirs();
});

async function fixture(opts: Parameters<typeof openFixture>[0] = {}): Promise<Fixture> {
  const f = await openFixture(opts);
  opened.push(f);
  return f;
}

async function peerWith(n: number): Promise<{ a: Fixture; srv: PeerHttpServer }> {
  const a = await fixture();
  const k = generateIdentity();
  for (let i = 0; i < n; i++) await a.chain.appendLocal(k, 'message', msg(`m${i}`));
  const srv = await startPeerHttpServer(createPeerApplication(a));
  opened.unshift(srv);
  return { a, srv };
}

interface Sent { locator: unknown[]; limit: unknown; localLength: number; servedBefore: number }

/** The node's HTTP peer port, recording each sync request (and the puller's height when it was sent). */
function recordingPort(f: Fixture, sent: Sent[], edit: (body: string) => string = (b) => b): PeerPort {
  const inner = new TransportSet([new HttpPeerTransport({ clock: f.clock })], f.settings.peers.allowClearnetSync);
  opened.unshift(inner);
  let served = 0;
  return {
    async send(req: PeerCallRequest): Promise<PeerCallResponse> {
      const body = JSON.parse(Buffer.from(req.body).toString('utf8')) as { locator: unknown[]; limit: unknown };
      sent.push({ locator: body.locator, limit: body.limit, localLength: f.chain.length, servedBefore: served });
      const r = await inner.send(req);
      const text = Buffer.from(r.body).toString('utf8');
      served += (JSON.parse(text) as { count?: number }).count ?? 0;
      return { ...r, body: Buffer.from(edit(text), 'utf8') };
    },
  };
}

/** `inner`, except that its `nth` request (0-based) is answered 429 with Retry-After `retryAfterS`, once. */
function limitedOnce(inner: PeerPort, nth: number, retryAfterS: number): PeerPort {
  let n = 0;
  return {
    async send(req: PeerCallRequest): Promise<PeerCallResponse> {
      const r = await inner.send(req);
      if (n++ !== nth) return r;
      return { status: 429, body: Buffer.from(JSON.stringify({ ok: false, detail: 'Rate limit exceeded' })), retryAfterS };
    },
  };
}

const opts = (f: Fixture, transports: PeerPort, extra: Partial<SyncClientOptions> = {}): SyncClientOptions => ({
  transports, settings: f.settings.peers, clock: f.clock, ...extra,
});

describe('pipelined sync', () => {
  test('requests run ahead of ingest, each a spec-sized §9.3 request, and the chain ends identical', async () => {
    const { a, srv } = await peerWith(230);
    const b = await fixture({ clock: a.clock });
    const sent: Sent[] = [];
    const r = await syncFromPeer(srv.url, b.chain, opts(b, recordingPort(b, sent), { pageSize: 20, maxRounds: 50, readAheadLimit: 20 }));
    expect(r).toMatchObject({ ok: true, error: '', forked: false, accepted: 230 });
    expect(r.more).toBeUndefined(); // caught up
    expect(b.chain.head).toBe(a.chain.head);
    expect(b.chain.length).toBe(230);
    // 12 pages (the last one short): no request beyond it.
    expect(sent).toHaveLength(12);
    for (const s of sent) {
      expect(s.limit).toBe(20);
      expect(s.locator.length).toBeLessThanOrEqual(32);
      expect(s.locator[s.locator.length - 1]).toBe(GENESIS_HASH);
    }
    // Each later request was sent before the events served so far were all ingested: the pipeline.
    for (const s of sent.slice(1)) expect(s.localLength).toBeLessThan(s.servedBefore);
  });

  test('rounds bound the requests: maxRounds 3 of pages of 20 asks three times and stops at 60 events', async () => {
    const { a, srv } = await peerWith(100);
    const b = await fixture({ clock: a.clock });
    const sent: Sent[] = [];
    const r = await syncFromPeer(srv.url, b.chain, opts(b, recordingPort(b, sent), { pageSize: 20, maxRounds: 3, readAheadLimit: 20 }));
    expect(r).toMatchObject({ ok: true, accepted: 60, more: true }); // the scheduler's cue to run the next cycle soon
    expect(sent).toHaveLength(3);
    expect(b.chain.length).toBe(60);
  });

  test('pages asked for ahead ask for more (readAheadLimit), each answer of at least a page is full, one round each', async () => {
    const { a, srv } = await peerWith(230);
    const b = await fixture({ clock: a.clock });
    const sent: Sent[] = [];
    const r = await syncFromPeer(srv.url, b.chain, opts(b, recordingPort(b, sent), { pageSize: 20, maxRounds: 3, readAheadLimit: 70 }));
    // 20 + 70 + 70 events in the three rounds: the rounds ran out on full pages.
    expect(r).toMatchObject({ ok: true, accepted: 160, more: true });
    expect(sent.map((s) => s.limit)).toEqual([20, 70, 70]);
    expect(b.chain.length).toBe(160);
    // The next call asks on from there: 70 more, then a short answer (the head) ends it.
    const again: Sent[] = [];
    const r2 = await syncFromPeer(srv.url, b.chain, opts(b, recordingPort(b, again), { pageSize: 20, maxRounds: 3, readAheadLimit: 70 }));
    expect(r2).toMatchObject({ ok: true, accepted: 70 });
    expect(r2.more).toBeUndefined();
    expect(b.chain.head).toBe(a.chain.head);
  });

  test('the default read-ahead size by transport: the §9.4 maximum over HTTP, 250 over Tor, 160 on the bus, the page on RNS', () => {
    expect(readAheadLimit('http://127.0.0.1:8080')).toBe(500);
    expect(readAheadLimit('http://abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuv.onion')).toBe(ONION_READ_AHEAD_LIMIT);
    expect(ONION_READ_AHEAD_LIMIT).toBe(250);
    // 500 events of the largest wire size (payload 4096 bytes + fixed fields < 5 KiB) fit the 4 MiB answer bound.
    expect(500 * 5 * 1024).toBeLessThan(MAX_RESPONSE_BYTES);
    expect(readAheadLimit('nats://!sb_56475aa75463474c0285df5dbf2bcab7')).toBe(BUS_READ_AHEAD_LIMIT);
    // …and 160 such events with their links fit NATS's default 1 MiB max_payload, with room for the reply's framing.
    expect(BUS_READ_AHEAD_LIMIT * 5 * 1024).toBeLessThan(1024 * 1024 - 64 * 1024);
    expect(readAheadLimit(`rns://${'ab'.repeat(16)}`)).toBe(100);
  });

  test('a carry hands the pages asked for ahead to the next call: it starts without a locator request, the chain ends identical', async () => {
    const { a, srv } = await peerWith(230);
    const b = await fixture({ clock: a.clock });
    const sent: Sent[] = [];
    const carry = newReadAheadCarry();
    const o = opts(b, recordingPort(b, sent), { pageSize: 20, maxRounds: 3, readAheadLimit: 20, prefetchPages: 2, carry });
    expect(await syncFromPeer(srv.url, b.chain, o)).toMatchObject({ ok: true, accepted: 60, more: true });
    expect(carry.held).not.toBeNull();
    // The next call's first page was asked for while this call's last batch was ingested.
    const before = sent.length;
    expect(before).toBeGreaterThan(3);
    const r2 = await syncFromPeer(srv.url, b.chain, o);
    expect(r2).toMatchObject({ ok: true, accepted: 60, more: true });
    // Every request since the first page: [last id served, GENESIS] — no §9.3 locator request started the second call.
    for (const x of sent.slice(1)) expect(x.locator).toHaveLength(2);
    let calls = 2;
    for (let r = r2; r.more; calls++) r = await syncFromPeer(srv.url, b.chain, o);
    expect(carry.held).toBeNull();
    expect(b.chain.head).toBe(a.chain.head);
    expect(b.chain.length).toBe(230);
    expect(sent.filter((x) => x.locator.length > 2 || x.locator[0] === GENESIS_HASH)).toHaveLength(1); // the very first
    expect(calls).toBe(4);
  });

  test('a carry is dropped when the head moved between calls (a local append): the next call asks with its own locator', async () => {
    const { srv } = await peerWith(230);
    const b = await fixture();
    const sent: Sent[] = [];
    const carry = newReadAheadCarry();
    const o = opts(b, recordingPort(b, sent), { pageSize: 20, maxRounds: 3, readAheadLimit: 20, prefetchPages: 2, carry });
    expect(await syncFromPeer(srv.url, b.chain, o)).toMatchObject({ ok: true, accepted: 60, more: true });
    expect(carry.held).not.toBeNull();
    await b.chain.appendLocal(generateIdentity(), 'message', msg('own'));
    const before = sent.length;
    await syncFromPeer(srv.url, b.chain, o);
    const next = sent.slice(before);
    expect(next[0].locator).toEqual(buildLocator(await b.chain.readRange(0, 61).then((e) => e.map((x) => x.event_id))));
  });

  test("a page asked for ahead that the peer refuses with a short 429 is asked again after its Retry-After; the sync completes", async () => {
    const { a, srv } = await peerWith(100);
    const b = await fixture({ clock: a.clock });
    const sent: Sent[] = [];
    const port = limitedOnce(recordingPort(b, sent), 2, 1);
    const r = await syncFromPeer(srv.url, b.chain, opts(b, port, { pageSize: 20, maxRounds: 50, readAheadLimit: 20 }));
    expect(r).toMatchObject({ ok: true, accepted: 100 });
    expect(b.chain.head).toBe(a.chain.head);
    // The third request went out twice (the same locator), once refused and once answered.
    expect(sent[3].locator).toEqual(sent[2].locator);
    expect(sent).toHaveLength(7);
  });

  test('a 429 on the first request of a sync, or with a long Retry-After ahead, ends the sync as a rate-limited failure (§9.6)', async () => {
    const { srv } = await peerWith(100);
    const b = await fixture();
    const first = await syncFromPeer(srv.url, b.chain, opts(b, limitedOnce(recordingPort(b, []), 0, 1), { pageSize: 20, maxRounds: 50, readAheadLimit: 20 }));
    expect(first).toMatchObject({ ok: false, retryAfterS: 1 });
    expect(first.cause?.code).toBe('rate_limited');
    expect(b.chain.length).toBe(0);
    const ahead = await syncFromPeer(srv.url, b.chain, opts(b, limitedOnce(recordingPort(b, []), 2, 180), { pageSize: 20, maxRounds: 50, readAheadLimit: 20 }));
    expect(ahead).toMatchObject({ ok: false, retryAfterS: 180 });
    expect(b.chain.length).toBe(40);
  });

  test('a bad signature in a page asked for ahead stops the sync at that event; nothing after it is ingested', async () => {
    const { a, srv } = await peerWith(100);
    const [bad] = await a.chain.readRange(45, 1);
    const forged = bad.signature.slice(0, -4) + (bad.signature.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    const b = await fixture({ clock: a.clock });
    const sent: Sent[] = [];
    const port = recordingPort(b, sent, (body) => body.replace(`"signature":"${bad.signature}"`, `"signature":"${forged}"`));
    const r = await syncFromPeer(srv.url, b.chain, opts(b, port, { pageSize: 20, maxRounds: 50 }));
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/^sync ingest rejected \d+ event\(s\): /);
    expect(r.forked).toBe(false);
    expect(b.chain.length).toBe(45);
    expect(b.chain.head).toBe((await a.chain.readRange(44, 1))[0].event_id);
  });

  test('the chain locator (one range read for the newest ids) is the §9.3 locator of the chain', async () => {
    const { a } = await peerWith(45);
    const ids = (await a.chain.readRange(0, 45)).map((e) => e.event_id);
    for (const n of [0, 1, 10, 11, 45]) expect(await chainLocator({ ...a.chain, length: n, readRange: (f: number, c: number) => a.chain.readRange(f, Math.min(c, n - f)) } as never)).toEqual(buildLocator(ids.slice(0, n)));
  });

  test("the chain actor's locator comes from its in-memory index, without a store read", async () => {
    const { a } = await peerWith(45);
    const ids = (await a.chain.readRange(0, 45)).map((e) => e.event_id);
    let reads = 0;
    const port = { length: a.chain.length, idAt: (h: number) => a.chain.idAt(h), readRange: (f: number, c: number) => { reads++; return a.chain.readRange(f, c); } };
    expect(await chainLocator(port as never)).toEqual(buildLocator(ids));
    expect(reads).toBe(0);
    expect([a.chain.idAt(-1), a.chain.idAt(45), a.chain.idAt(1.5)]).toEqual([undefined, undefined, undefined]);
  });
});
