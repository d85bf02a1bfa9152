// The onion transport against a real private Tor network on 127.0.0.1: a managed tor publishes an onion service
// (our own ED25519-V3 key) that forwards to a local listener; a second managed tor reaches it through its SOCKS
// port with the name resolved by Tor. Failures are the retryable UNAVAILABLE, and the address survives a restart.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { joinTorrcLines, type TorNetworkInfo } from '../../harness/tor-network.js';
import { waitUntil } from '../../harness/wait.js';
import { ErrorCodes, InfonetError } from '../../protocol/errors.js';
import { ManagedTor } from '../../transports/onion/managed-tor.js';
import { loadOrCreateOnionKey, onionKeyFromSeed } from '../../transports/onion/onion-key.js';
import { publishOnionService } from '../../transports/onion/onion-service.js';
import { OnionPeerTransport } from '../../transports/onion/onion-transport.js';
import { TorControl } from '../../transports/onion/tor-control.js';
import { NETWORK_WAIT_MS, releaseTorNetwork, sharedTorNetwork, TOR_AVAILABLE, withTor } from '../helpers/tor.js';

jest.setTimeout(NETWORK_WAIT_MS + 60_000);

let net: TorNetworkInfo;
let scratch: string;
const tors: ManagedTor[] = [];
let server: http.Server;
let serverPort: number;
const seen: Array<{ path: string; body: string; remote: string }> = [];

async function managedTor(name: string): Promise<ManagedTor> {
  const t = await ManagedTor.start({ dir: join(scratch, name, 'tor'), extraTorrc: joinTorrcLines(net) });
  tors.push(t);
  return t;
}

/** SIGNAL NEWNYM over a second control connection: the managed tor forgets the onion descriptors and intro-point
 * failures it cached (tor's hs_client_purge_state) and takes fresh circuits. */
async function forgetOnions(name: string): Promise<void> {
  const dir = join(scratch, name, 'tor');
  const port = Number(/PORT=[0-9.]+:(\d+)/.exec(readFileSync(join(dir, 'control_port'), 'utf8'))?.[1]);
  const c = await TorControl.open('127.0.0.1', port, { cookieFile: join(dir, 'control_auth_cookie') });
  try {
    await c.ok('SIGNAL NEWNYM');
  } finally {
    c.close();
  }
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'onion-transport-'));
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ path: req.url ?? '', body: Buffer.concat(chunks).toString('utf8'), remote: req.socket.remoteAddress ?? '' });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Retry-After': '7' });
      res.end(JSON.stringify({ ok: true, echo: Buffer.concat(chunks).toString('utf8') }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  serverPort = (server.address() as AddressInfo).port;
  if (TOR_AVAILABLE) net = await sharedTorNetwork();
});

afterAll(async () => {
  for (const t of tors) await t.stop();
  await new Promise<void>((r) => server.close(() => r()));
  await releaseTorNetwork();
  rmSync(scratch, { recursive: true, force: true });
});

const call = (t: OnionPeerTransport, peer: string, body = '{"n":1}') =>
  t.send({ peer, route: 'dm/ack', body: Buffer.from(body), headers: { 'X-Peer-Url': 'http://example.onion' }, timeoutMs: 30_000 });

test('a URL that is not a v3 onion is refused without a connection (BAD_INPUT)', async () => {
  const t = new OnionPeerTransport({ socks: { host: '127.0.0.1', port: 1 } });
  await expect(call(t, 'http://short.onion')).rejects.toMatchObject({ code: ErrorCodes.BAD_INPUT });
  expect(t.handles('http://127.0.0.1:8000')).toBe(false);
  await t.close();
});

test('no tor running is the retryable UNAVAILABLE', async () => {
  const key = onionKeyFromSeed(Buffer.alloc(32, 7));
  const t = new OnionPeerTransport({ socks: () => null });
  await expect(call(t, key.url)).rejects.toMatchObject({ code: ErrorCodes.UNAVAILABLE });
  await t.close();
});

withTor('push over a real onion service: same bytes, status and Retry-After; stable address across a tor restart', async () => {
  const keyFile = join(scratch, 'a', 'onion_key.json');
  const key = loadOrCreateOnionKey(keyFile);
  expect(statSync(keyFile).mode & 0o777).toBe(0o600);
  let a = await managedTor('a');
  const published = await publishOnionService(a, key, serverPort, { info: () => undefined, warn: () => undefined, error: () => undefined });
  expect(published.url).toBe(key.url);
  const b = await managedTor('b');
  const t = new OnionPeerTransport({ socks: () => b.socks() });

  // The first attempts right after ADD_ONION fail with SOCKS 0x04 until the descriptor is up: retryable.
  const r = await waitUntil(() => call(t, key.url, '{"hello":"onion"}'), 60_000, 'the onion service to answer', 500);
  expect(r.status).toBe(200);
  expect(JSON.parse(Buffer.from(r.body).toString('utf8'))).toEqual({ ok: true, echo: '{"hello":"onion"}' });
  expect(r.retryAfterS).toBe(7);
  expect(seen.at(-1)).toMatchObject({ path: '/api/mesh/dm/ack', remote: '127.0.0.1' });

  // Restart: a fresh tor on the same data directory, the same key file → the same address, reachable again.
  await a.stop();
  tors.splice(tors.indexOf(a), 1);
  const failure = await call(t, key.url).then(() => null, (e: unknown) => e);
  if (failure) {
    expect(failure).toBeInstanceOf(InfonetError);
    expect(['unavailable', 'timeout']).toContain((failure as InfonetError).code);
  }
  a = await managedTor('a');
  const again = loadOrCreateOnionKey(keyFile);
  expect(again.url).toBe(key.url);
  await publishOnionService(a, again, serverPort, { info: () => undefined, warn: () => undefined, error: () => undefined });
  const n = seen.length;
  // B cached the old instance's descriptor (dead intro points) and may have marked those intro points failed; tor
  // refetches on its own, but on a loaded machine that can outlast the wait. After each failed attempt B is told to
  // forget its onion state (NEWNYM), so the next attempt fetches whatever the HSDirs hold by then.
  await waitUntil(() => call(t, key.url, '{"again":true}').catch(async (e: unknown) => {
    await forgetOnions('b');
    throw e;
  }), 120_000, 'the restarted onion service to answer', 500);
  expect(seen.length).toBeGreaterThan(n);
  await t.close();
});

withTor('an unpublished onion is the retryable UNAVAILABLE (SOCKS host unreachable)', async () => {
  const c = await managedTor('c');
  const t = new OnionPeerTransport({ socks: () => c.socks() });
  const nobody = onionKeyFromSeed(Buffer.alloc(32, 9));
  await expect(call(t, nobody.url)).rejects.toMatchObject({ code: ErrorCodes.UNAVAILABLE });
  await t.close();
});

withTor('a managed tor that dies is restarted and the onion service is published again', async () => {
  const key = loadOrCreateOnionKey(join(scratch, 'd', 'onion_key.json'));
  const d = await managedTor('d');
  const published = await publishOnionService(d, key, serverPort, { info: () => undefined, warn: () => undefined, error: () => undefined });
  const e = await managedTor('e');
  const t = new OnionPeerTransport({ socks: () => e.socks() });
  await waitUntil(() => call(t, key.url), 90_000, 'the onion service to answer', 500);
  const pid = d.pid!;
  process.kill(pid, 'SIGKILL');
  // A client that knew the old instance keeps its cached descriptor (dead intro points) until tor refetches it, which
  // can outlast the test; whether the service is published again is asked of a client without that cache.
  const fresh = managedTor('f');
  await waitUntil(() => d.status().restarts === 1 && d.status().state === 'ready' && d.pid !== pid && published.published() === 2, 120_000, 'the managed tor to be restarted and the service re-added', 200);
  const f = await fresh;
  const tf = new OnionPeerTransport({ socks: () => f.socks() });
  // f may have fetched the old descriptor from the HSDirs before the restarted tor's upload landed: after each failed
  // attempt it forgets its onion state (as in the push test above), so the next attempt reads what the HSDirs hold.
  await waitUntil(() => call(tf, key.url).catch(async (e: unknown) => {
    await forgetOnions('f');
    throw e;
  }), 120_000, 'the re-published onion service to answer', 500);
  await tf.close();
  await t.close();
});
