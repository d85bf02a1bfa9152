// The fastify peer listener (transports/http-server.ts) on real sockets: exact body bytes reach the application,
// body limits are enforced on bytes read before the application sees anything (§8.4.1), a client that drips a body
// or its headers is cut (issue 8 item 5), unknown routes and bad framing are 4xx — never 500.
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import type { InboundPeerRequest, PeerApplication } from '../../ports/peer.js';
import { startPeerHttpServer, type PeerHttpServer } from '../../transports/http-server.js';

const REPLICATE = '/api/mesh/dm/replicate-envelope';
const LIMIT = 65_536;

/** A peer application that records what the listener hands it and echoes the body length. */
function recordingApp(): PeerApplication & { seen: InboundPeerRequest[] } {
  const seen: InboundPeerRequest[] = [];
  return {
    seen,
    async handle(req) {
      seen.push(req);
      const json = { ok: true, bytes: req.body.length, via: req.via };
      return { status: 200, json, body: JSON.stringify(json) };
    },
  };
}

type Answer = { status?: number; text?: string; headers?: http.IncomingHttpHeaders; error?: string };

function send(port: number, path: string, body: Buffer | null, opts: { chunked?: boolean; method?: string; contentType?: string | null } = {}): Promise<Answer> {
  return new Promise((resolve) => {
    const headers: Record<string, string | number> = {};
    if (opts.contentType !== null) headers['Content-Type'] = opts.contentType ?? 'application/json';
    if (body && !opts.chunked) headers['Content-Length'] = body.length;
    const req = http.request({ host: '127.0.0.1', port, method: opts.method ?? 'POST', path, headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(parts).toString(), headers: res.headers }));
      res.on('error', (e) => resolve({ status: res.statusCode, error: e.message }));
    });
    req.on('error', (e) => resolve({ error: e.message }));
    if (body && opts.chunked) {
      for (let off = 0; off < body.length; off += 10_000) req.write(body.subarray(off, off + 10_000));
      req.end();
    } else {
      req.end(body ?? undefined);
    }
  });
}

describe('peer HTTP listener (fastify)', () => {
  let app: ReturnType<typeof recordingApp>;
  let srv: PeerHttpServer;
  beforeAll(async () => {
    app = recordingApp();
    srv = await startPeerHttpServer(app, { requestTimeoutMs: 400, headersTimeoutMs: 300 });
  });
  afterAll(async () => {
    await srv.close();
  });
  beforeEach(() => {
    app.seen.length = 0;
  });

  test('binds 127.0.0.1 by default and serves every route of the table', () => {
    expect(srv.host).toBe('127.0.0.1');
    expect(srv.routes).toContain(`POST ${REPLICATE}`);
    expect(srv.routes).toContain('GET /api/mesh/infonet/sync');
  });

  test('the exact body bytes reach the application, whatever the content type', async () => {
    const payload = Buffer.from(JSON.stringify({ envelope: { msg_id: 'dm-1', text: 'ünïcode' } }) + '  ');
    for (const contentType of ['application/json', 'text/plain', 'application/octet-stream', null]) {
      app.seen.length = 0;
      const r = await send(srv.port, REPLICATE, payload, { contentType });
      expect(r.status).toBe(200);
      expect(app.seen).toHaveLength(1);
      expect(app.seen[0].body.equals(payload)).toBe(true);
      expect(app.seen[0].via).toBe('http');
      expect(app.seen[0].remoteAddress).toMatch(/127\.0\.0\.1/);
    }
  });

  test('T52 a declared oversize body → 413 with the spec text, before the application sees anything', async () => {
    const r = await send(srv.port, REPLICATE, Buffer.alloc(100_002, 0x61));
    expect(r.status).toBe(413);
    expect(r.headers?.connection).toBe('close');
    expect(JSON.parse(r.text ?? '{}')).toEqual({ ok: false, detail: 'Request body too large (max 64KB)' });
    expect(app.seen).toHaveLength(0);
  });

  test('T52 tightening: a chunked oversize body is refused too; a chunked body of exactly the limit is accepted', async () => {
    const over = await send(srv.port, REPLICATE, Buffer.alloc(LIMIT + 1, 0x62), { chunked: true });
    // Either the 413 arrives or the connection is reset mid-upload; the application never runs.
    if (over.status !== undefined) expect(over.status).toBe(413);
    expect(app.seen).toHaveLength(0);
    const exact = await send(srv.port, REPLICATE, Buffer.alloc(LIMIT, 0x63), { chunked: true });
    expect(exact.status).toBe(200);
    expect(JSON.parse(exact.text ?? '{}').bytes).toBe(LIMIT);
  });

  test('the batch route has its own, larger limit', async () => {
    const r = await send(srv.port, '/api/mesh/dm/replicate-envelopes', Buffer.alloc(100_000, 0x20));
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text ?? '{}').bytes).toBe(100_000);
  });

  test('unknown path → 404, wrong method → 405, GET sync carries its query', async () => {
    expect((await send(srv.port, '/nope', Buffer.from('{}'))).status).toBe(404);
    const wrong = await send(srv.port, REPLICATE, null, { method: 'GET' });
    expect(wrong.status).toBe(405);
    expect(JSON.parse(wrong.text ?? '{}')).toEqual({ ok: false, detail: 'Method Not Allowed' });
    const get = await send(srv.port, '/api/mesh/infonet/sync?limit=7&after_hash=abc', null, { method: 'GET' });
    expect(get.status).toBe(200);
    expect(app.seen[0].query?.get('limit')).toBe('7');
    expect(app.seen[0].query?.get('after_hash')).toBe('abc');
  });

  test('broken chunked framing is a 4xx, never a 500', async () => {
    const sock = net.connect(srv.port, '127.0.0.1');
    await once(sock, 'connect');
    const chunks: Buffer[] = [];
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.write(`POST ${REPLICATE} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n`);
    await once(sock, 'close');
    const head = Buffer.concat(chunks).toString().split('\r\n')[0] ?? '';
    expect(head).toMatch(/^HTTP\/1\.1 4\d\d/);
    expect(app.seen).toHaveLength(0);
  });

  test('a client that drips its body is cut by the request timeout; the application never runs', async () => {
    const sock = net.connect(srv.port, '127.0.0.1');
    await once(sock, 'connect');
    sock.on('data', () => undefined);
    sock.on('error', () => undefined);
    sock.write(`POST ${REPLICATE} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"env`);
    // Drip one byte whenever the server has not closed yet; the server must end it anyway.
    const drip = setInterval(() => { if (!sock.destroyed) sock.write('x'); }, 50);
    await once(sock, 'close');
    clearInterval(drip);
    expect(app.seen).toHaveLength(0);
  });

  test('connections beyond the cap are closed on arrival; the ones inside it still work', async () => {
    const small = await startPeerHttpServer(app, { maxConnections: 3 });
    const held: net.Socket[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const s = net.connect(small.port, '127.0.0.1');
        s.on('error', () => undefined);
        await once(s, 'connect');
        held.push(s);
      }
      // Node accepts and closes at once: the socket sees its end without any byte.
      const extra = net.connect(small.port, '127.0.0.1');
      extra.on('error', () => undefined);
      const data: Buffer[] = [];
      extra.on('data', (c: Buffer) => data.push(c));
      await once(extra, 'close');
      expect(Buffer.concat(data).length).toBe(0);
      held[0].write(`GET /api/mesh/infonet/sync HTTP/1.1\r\nHost: x\r\n\r\n`);
      const [answer] = (await once(held[0], 'data')) as [Buffer];
      expect(answer.toString().startsWith('HTTP/1.1 200')).toBe(true);
    } finally {
      for (const s of held) s.destroy();
      await small.close();
    }
  });

  test('a client that drips its headers is cut by the headers timeout', async () => {
    const sock = net.connect(srv.port, '127.0.0.1');
    await once(sock, 'connect');
    sock.on('data', () => undefined);
    sock.on('error', () => undefined);
    sock.write(`POST ${REPLICATE} HTTP/1.1\r\nHost: x\r\n`);
    const drip = setInterval(() => { if (!sock.destroyed) sock.write('X-A: b\r\n'); }, 50);
    await once(sock, 'close');
    clearInterval(drip);
    expect(app.seen).toHaveLength(0);
  });
});
