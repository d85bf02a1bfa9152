// The outbound peer port (transports/transport.ts TransportSet): transports registered by URL kind, §9.1 policy
// before any socket, a typed error for a URL nobody handles, one registration per name. Real HTTP transport and a
// real listener behind the fault proxy, whose counters show whether a connection was made.
import { ErrorCodes, isInfonetError } from '../../protocol/errors.js';
import { HttpPeerTransport } from '../../transports/loopback-http.js';
import { startPeerHttpServer, type PeerHttpServer } from '../../transports/http-server.js';
import { TransportSet } from '../../transports/transport.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';

const body = Buffer.from('{}');
const call = (peer: string) => ({ peer, route: 'infonet/sync' as const, body, headers: {}, timeoutMs: 2000 });
const codeOf = async (p: Promise<unknown>): Promise<string | undefined> => p.then(() => undefined, (e: unknown) => (isInfonetError(e) ? e.code : 'untyped'));

describe('TransportSet', () => {
  let srv: PeerHttpServer;
  let proxy: FaultProxy;
  let set: TransportSet | undefined;
  beforeAll(async () => {
    srv = await startPeerHttpServer({ async handle() { return { status: 200, json: { ok: true }, body: '{"ok":true}' }; } });
    proxy = await startFaultProxy(srv.port);
  });
  afterEach(async () => {
    await set?.close();
    set = undefined;
  });
  afterAll(async () => {
    await proxy.close();
    await srv.close();
  });

  test('a loopback peer goes through the registered HTTP transport', async () => {
    set = new TransportSet([new HttpPeerTransport()], false);
    const r = await set.send(call(proxy.url));
    expect(r.status).toBe(200);
    expect(proxy.stats.connections).toBeGreaterThanOrEqual(1);
    expect(set.names).toEqual(['http']);
  });

  test('private mode: a clearnet peer is PRIVATE_TRANSPORT_REQUIRED before any socket is opened', async () => {
    set = new TransportSet([new HttpPeerTransport()], false);
    const before = proxy.stats.connections;
    expect(await codeOf(set.send(call('http://peer.example:1')))).toBe(ErrorCodes.PRIVATE_TRANSPORT_REQUIRED);
    expect(proxy.stats.connections).toBe(before);
  });

  test('a URL kind nobody registered is BAD_INPUT (not retryable); a refused connection is UNAVAILABLE (retryable)', async () => {
    set = new TransportSet([new HttpPeerTransport()], false);
    expect(await codeOf(set.send(call('nats://!sb_0123456789abcdef0123456789abcdef')))).toBe(ErrorCodes.BAD_INPUT);
    proxy.set({ refuse: true });
    try {
      expect(await codeOf(set.send(call(proxy.url)))).toBe(ErrorCodes.UNAVAILABLE);
    } finally {
      proxy.set({});
    }
  });

  test('a transport name registers once', () => {
    set = new TransportSet([new HttpPeerTransport()], false);
    expect(() => set!.register(new HttpPeerTransport())).toThrow(/already registered/);
  });
});
