// Edge cases of the onion pieces without tor: v3 address derivation and checks, the kept key file, the control-port
// client against a scripted control server, and the outbound transport through a tiny SOCKS5 server (RFC 1928,
// CONNECT with a domain name only) that maps `.onion` names to local ports like Tor would. The real thing is tested
// against a private Tor network in onion-transport.test.ts and node-onion.test.ts.
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCodes } from '../../protocol/errors.js';
import { parseTorControlAddress } from '../../transports/onion/external-tor.js';
import { isOnionV3ServiceId, loadOrCreateOnionKey, onionKeyFromSeed } from '../../transports/onion/onion-key.js';
import { peerTransportKinds } from '../../transports/onion/onion-node.js';
import { OnionPeerTransport } from '../../transports/onion/onion-transport.js';
import { TorControl } from '../../transports/onion/tor-control.js';

const servers: Server[] = [];
const sockets = new Set<Socket>();
let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'onion-unit-'));
});
afterAll(async () => {
  for (const so of sockets) so.destroy();
  for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
  rmSync(scratch, { recursive: true, force: true });
});

async function listen(s: Server): Promise<number> {
  servers.push(s);
  s.on('connection', (so: Socket) => {
    sockets.add(so);
    so.on('close', () => sockets.delete(so));
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as AddressInfo).port;
}

/** SOCKS5, no auth, CONNECT to a domain name only; `.onion` names looked up in `map`, others 0x04 like Tor. */
function fakeSocks(map: Map<string, number>): Server {
  return createServer((client: Socket) => {
    let buf = Buffer.alloc(0);
    let stage: 'greeting' | 'request' | 'piped' = 'greeting';
    client.on('error', () => undefined);
    client.on('data', (chunk: Buffer) => {
      if (stage === 'piped') return;
      buf = Buffer.concat([buf, chunk]);
      if (stage === 'greeting') {
        if (buf.length < 2 || buf.length < 2 + buf[1]) return;
        buf = buf.subarray(2 + buf[1]);
        client.write(Buffer.from([5, 0]));
        stage = 'request';
      }
      if (stage === 'request') {
        if (buf.length < 5) return;
        if (buf[1] !== 1) return void client.end(Buffer.from([5, 7, 0, 1, 0, 0, 0, 0, 0, 0]));
        if (buf[3] !== 3) return void client.end(Buffer.from([5, 8, 0, 1, 0, 0, 0, 0, 0, 0]));
        const len = buf[4];
        if (buf.length < 5 + len + 2) return;
        const host = buf.subarray(5, 5 + len).toString('latin1');
        const rest = buf.subarray(5 + len + 2);
        const port = map.get(host);
        if (port === undefined) return void client.end(Buffer.from([5, 4, 0, 1, 0, 0, 0, 0, 0, 0]));
        stage = 'piped';
        const upstream = connect(port, '127.0.0.1', () => {
          client.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 0]));
          if (rest.length) upstream.write(rest);
          client.pipe(upstream).pipe(client);
        });
        upstream.on('error', () => client.destroy());
      }
    });
  });
}

const req = (peer: string, timeoutMs = 5000) => ({ peer, route: 'dm/ack' as const, body: Buffer.from('{"x":1}'), headers: { 'X-Peer-Url': 'http://me.onion' }, timeoutMs });

describe('v3 onion addresses and the kept key', () => {
  test('derived ids pass the checksum; tampered, short or v2 ids do not', () => {
    const k = onionKeyFromSeed(Buffer.alloc(32, 1));
    expect(k.serviceId).toHaveLength(56);
    expect(k.url).toBe(`http://${k.serviceId}.onion`);
    expect(onionKeyFromSeed(Buffer.alloc(32, 1)).serviceId).toBe(k.serviceId);
    expect(isOnionV3ServiceId(k.serviceId)).toBe(true);
    const flipped = (k.serviceId[0] === 'a' ? 'b' : 'a') + k.serviceId.slice(1);
    expect(isOnionV3ServiceId(flipped)).toBe(false);
    expect(isOnionV3ServiceId(k.serviceId.slice(0, 16))).toBe(false);
    expect(isOnionV3ServiceId(k.serviceId.toUpperCase())).toBe(false);
    expect(k.torKeyBlob).toMatch(/^ED25519-V3:[A-Za-z0-9+/]{86}==$/);
  });

  test('the key file is created mode 600 and gives the same address again; a damaged file is refused, not replaced', () => {
    const f = join(scratch, 'k1', 'onion_key.json');
    const a = loadOrCreateOnionKey(f);
    expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(loadOrCreateOnionKey(f).url).toBe(a.url);
    expect(readFileSync(f, 'utf8')).not.toContain(a.torKeyBlob.slice(11)); // the expanded key is never stored
    writeFileSync(f, '{"version":1,"seed":"zz"}');
    expect(() => loadOrCreateOnionKey(f)).toThrow(expect.objectContaining({ code: ErrorCodes.STORE_CORRUPT }));
  });
});

describe('tor control client (scripted control port)', () => {
  test('cookie auth from PROTOCOLINFO, multi-line and data-block replies, errors as UNAVAILABLE', async () => {
    const cookie = Buffer.alloc(32, 0xab);
    const cookieFile = join(scratch, 'cookie');
    writeFileSync(cookieFile, cookie);
    chmodSync(cookieFile, 0o600);
    const seen: string[] = [];
    const port = await listen(createServer((s) => {
      let buf = '';
      s.on('data', (c) => {
        buf += c.toString();
        let i: number;
        while ((i = buf.indexOf('\r\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 2);
          seen.push(line);
          if (line === 'PROTOCOLINFO 1') s.write(`250-PROTOCOLINFO 1\r\n250-AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFILE="${cookieFile}"\r\n250-VERSION Tor="0.4.9.11"\r\n250 OK\r\n`);
          else if (line.startsWith('AUTHENTICATE ')) s.write(line.slice(13) === cookie.toString('hex') ? '250 OK\r\n' : '515 Authentication failed\r\n');
          else if (line === 'GETINFO status/bootstrap-phase') s.write('650 STATUS_CLIENT NOTICE CIRCUIT_ESTABLISHED\r\n250-status/bootstrap-phase=NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY="Done"\r\n250 OK\r\n');
          else if (line === 'GETINFO net/listeners/socks') s.write('250-net/listeners/socks="127.0.0.1:9999"\r\n250 OK\r\n');
          else if (line === 'GETINFO config-text') s.write('250+config-text=\r\nSocksPort 9050\r\n..dotted\r\n.\r\n250 OK\r\n');
          else s.write('510 Unrecognized command\r\n');
        }
      });
    }));
    const c = await TorControl.open('127.0.0.1', port);
    expect(await c.bootstrap()).toEqual({ progress: 100, summary: 'Done' });
    expect(await c.socksListener()).toEqual({ host: '127.0.0.1', port: 9999 });
    expect(await c.getInfo('config-text')).toBe('SocksPort 9050\n.dotted');
    await expect(c.ok('NOPE')).rejects.toMatchObject({ code: ErrorCodes.UNAVAILABLE });
    await expect(c.command('GETINFO x\r\nSIGNAL HALT')).rejects.toMatchObject({ code: ErrorCodes.BAD_INPUT });
    expect(seen).not.toContain('SIGNAL HALT');
    c.close();
    await c.closed;
    await expect(c.command('GETINFO version')).rejects.toMatchObject({ code: ErrorCodes.UNAVAILABLE });
  });

  test('--tor-control wants HOST:PORT', () => {
    expect(parseTorControlAddress('127.0.0.1:9051')).toEqual({ host: '127.0.0.1', port: 9051 });
    for (const bad of ['127.0.0.1', ':9051', 'h:0', 'h:70000', 'a b:1']) expect(() => parseTorControlAddress(bad)).toThrow(expect.objectContaining({ code: ErrorCodes.BAD_INPUT }));
  });
});

describe('outbound transport through a SOCKS5 server that resolves .onion names itself', () => {
  const known = onionKeyFromSeed(Buffer.alloc(32, 2));
  const silent = onionKeyFromSeed(Buffer.alloc(32, 3));
  const huge = onionKeyFromSeed(Buffer.alloc(32, 4));
  const unknown = onionKeyFromSeed(Buffer.alloc(32, 5));
  let socksPort = 0;
  const bodies: string[] = [];

  beforeAll(async () => {
    const app = http.createServer((r, res) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => {
        bodies.push(`${r.headers.host} ${r.url} ${Buffer.concat(chunks).toString()}`);
        res.writeHead(429, { 'Retry-After': '30', 'Content-Type': 'application/json' }).end('{"ok":false}');
      });
    });
    const appPort = await listen(app as unknown as Server);
    const silentPort = await listen(createServer(() => undefined)); // accepts, never answers
    const hugePort = await listen(http.createServer((_r, res) => res.end(Buffer.alloc(5 * 1024 * 1024))) as unknown as Server);
    socksPort = await listen(fakeSocks(new Map([
      [`${known.serviceId}.onion`, appPort], [`${silent.serviceId}.onion`, silentPort], [`${huge.serviceId}.onion`, hugePort],
    ])));
  });

  test('the name reaches the proxy unresolved; status, body and Retry-After come back', async () => {
    const t = new OnionPeerTransport({ socks: { host: '127.0.0.1', port: socksPort } });
    const r = await t.send(req(known.url));
    expect(r.status).toBe(429);
    expect(r.retryAfterS).toBe(30);
    expect(bodies.at(-1)).toBe(`${known.serviceId}.onion /api/mesh/dm/ack {"x":1}`);
    expect(t.answered).toBe(1);
    await t.close();
  });

  test('host unreachable (unpublished onion) → UNAVAILABLE; no answer in time → TIMEOUT; oversized answer → UNAVAILABLE', async () => {
    const t = new OnionPeerTransport({ socks: () => ({ host: '127.0.0.1', port: socksPort }) });
    await expect(t.send(req(unknown.url))).rejects.toMatchObject({ code: ErrorCodes.UNAVAILABLE });
    await expect(t.send(req(silent.url, 300))).rejects.toMatchObject({ code: ErrorCodes.TIMEOUT });
    await expect(t.send(req(huge.url))).rejects.toMatchObject({ code: ErrorCodes.UNAVAILABLE });
    await t.close();
  });

  test('no proxy listening → UNAVAILABLE (retryable), never a crash', async () => {
    const closedPort = await listen(createServer());
    servers.pop()!.close();
    const t = new OnionPeerTransport({ socks: { host: '127.0.0.1', port: closedPort } });
    await expect(t.send(req(known.url))).rejects.toMatchObject({ code: ErrorCodes.UNAVAILABLE });
    await t.close();
  });
});

test('status: per peer the transport kind and whether private mode may dial it', () => {
  const o = onionKeyFromSeed(Buffer.alloc(32, 6)).url;
  expect(peerTransportKinds([o, 'http://127.0.0.1:8000', 'http://192.0.2.9:80', 'nats://abc'], false)).toEqual([
    { url: o, transport: 'onion', allowed: true },
    { url: 'http://127.0.0.1:8000', transport: 'loopback', allowed: true },
    { url: 'http://192.0.2.9:80', transport: 'clearnet', allowed: false },
    { url: 'nats://abc', transport: 'bus', allowed: true },
  ]);
});
