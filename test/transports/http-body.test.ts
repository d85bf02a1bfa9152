import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCodes, InfonetError } from '../../protocol/errors.js';
import { readBodyLimited, sendJson } from '../../transports/http-body.js';

const LIMIT = 65_536;

type Outcome = { body?: Buffer; error?: InfonetError };

/** A server whose single handler reads one body with the limit and reports what happened. */
function startServer(): Promise<{ port: number; next: () => Promise<Outcome>; close: () => Promise<void> }> {
  const waiting: Array<(o: Outcome) => void> = [];
  const server = http.createServer((req, res) => {
    const report = waiting.shift();
    readBodyLimited(req, LIMIT).then(
      (body) => {
        report?.({ body });
        sendJson(res, 200, { ok: true, bytes: body.length });
      },
      (error: InfonetError) => {
        report?.({ error });
        sendJson(res, 413, { ok: false, detail: error.reason });
      },
    );
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        port,
        next: () => new Promise<Outcome>((r) => waiting.push(r)),
        close: () => new Promise<void>((r) => {
          server.closeAllConnections();
          server.close(() => r());
        }),
      });
    });
  });
}

/** Sends `body` (as one Content-Length body, or as chunks without a length) and settles on reply or reset. */
function send(port: number, body: Buffer, chunked: boolean): Promise<{ status?: number; text?: string; error?: string }> {
  return new Promise((resolve) => {
    const headers: Record<string, string | number> = { 'Content-Type': 'application/json' };
    if (!chunked) headers['Content-Length'] = body.length;
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(parts).toString() }));
      res.on('error', (e) => resolve({ status: res.statusCode, error: e.message }));
    });
    req.on('error', (e) => resolve({ error: e.message }));
    if (chunked) {
      for (let off = 0; off < body.length; off += 10_000) req.write(body.subarray(off, off + 10_000));
      req.end();
    } else {
      req.end(body);
    }
  });
}

describe('readBodyLimited on a real HTTP server', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server.close();
  });

  test('T52 oversize body with Content-Length → BODY_TOO_LARGE before reading', async () => {
    const outcome = server.next();
    const reply = send(server.port, Buffer.alloc(100_002, 0x61), false);
    const { error } = await outcome;
    expect(error).toBeInstanceOf(InfonetError);
    expect(error?.code).toBe(ErrorCodes.BODY_TOO_LARGE);
    expect(error?.reason).toBe('Request body too large (max 64KB)');
    expect(error?.details?.bytes_read).toBe(0);
    const r = await reply;
    if (r.status !== undefined) expect(r.status).toBe(413);
  });

  test('T52 tightening: chunked oversize body without Content-Length → error after ≤ limit+1 bytes', async () => {
    const outcome = server.next();
    const reply = send(server.port, Buffer.alloc(100_002, 0x62), true);
    const { error } = await outcome;
    expect(error?.code).toBe(ErrorCodes.BODY_TOO_LARGE);
    expect(error?.details?.bytes_read).toBeLessThanOrEqual(LIMIT + 1);
    expect(error?.details?.bytes_read).toBe(LIMIT + 1);
    await reply; // either the 413 arrives or the connection is reset; both are fine
  });

  test('small body is returned intact', async () => {
    const payload = Buffer.from(JSON.stringify({ envelope: { msg_id: 'dm-1', text: 'ünïcode' } }));
    const outcome = server.next();
    const reply = send(server.port, payload, false);
    const { body } = await outcome;
    expect(body?.equals(payload)).toBe(true);
    expect(await reply).toEqual({ status: 200, text: JSON.stringify({ ok: true, bytes: payload.length }) });
  });

  test('small chunked body and a body of exactly the limit are accepted', async () => {
    const small = Buffer.from('{"a":1}');
    let outcome = server.next();
    let reply = send(server.port, small, true);
    expect((await outcome).body?.equals(small)).toBe(true);
    await reply;

    const exact = Buffer.alloc(LIMIT, 0x63);
    outcome = server.next();
    reply = send(server.port, exact, true);
    expect((await outcome).body?.length).toBe(LIMIT);
    expect((await reply).status).toBe(200);
  });

  test('empty body → empty buffer', async () => {
    const outcome = server.next();
    const reply = send(server.port, Buffer.alloc(0), false);
    expect((await outcome).body?.length).toBe(0);
    await reply;
  });
});
