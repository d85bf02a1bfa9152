// The node's peer HTTP listener: maps PEER_ROUTES onto transports/peer-endpoints.ts. It binds 127.0.0.1
// unless told otherwise (§9.1.2: onion traffic arrives through the local hidden service), enforces body
// limits on the bytes actually read (readBodyLimited, §8.4.1 tightening), and hands the handlers the
// socket's address — never the Host header — for the private-caller decision (§9.5.2).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { ErrorCodes, isInfonetError } from '../protocol/errors.js';
import { readBodyLimited, sendJson } from './http-body.js';
import { createPeerEndpoints, findRoute, PEER_ROUTES, type PeerEndpointDeps, type PeerEndpoints, type PeerResponse } from './peer-endpoints.js';

export interface PeerHttpServer {
  /** `http://<host>:<port>` */
  url: string;
  port: number;
  host: string;
  /** `"<METHOD> <path>"` of every route served. */
  routes: string[];
  close(): Promise<void>;
}

export interface PeerHttpServerOptions {
  host?: string;
  port?: number;
  logger?: Logger;
}

function send(res: ServerResponse, r: PeerResponse): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = Buffer.from(r.body, 'utf8');
  res.writeHead(r.status, { 'Content-Type': 'application/json', 'Content-Length': body.length, ...(r.headers ?? {}) });
  res.end(body);
}

/** Handlers, or anything with the handlers' dependencies (an InfonetNode has them all). */
export type EndpointSource = PeerEndpoints | PeerEndpointDeps;

export const endpointsOf = (src: EndpointSource): PeerEndpoints =>
  'handle' in src && typeof src.handle === 'function' ? src : createPeerEndpoints(src as PeerEndpointDeps);

export async function startPeerHttpServer(source: EndpointSource, opts: PeerHttpServerOptions = {}): Promise<PeerHttpServer> {
  const endpoints = endpointsOf(source);
  const host = opts.host ?? '127.0.0.1';
  const log = opts.logger;

  const onRequest = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://peer.invalid'); // base only to parse path and query
    const method = (req.method ?? 'GET').toUpperCase();
    const route = findRoute(method, url.pathname);
    if (!route) {
      const known = PEER_ROUTES.some((r) => r.path === url.pathname);
      sendJson(res, known ? 405 : 404, { ok: false, detail: known ? 'Method Not Allowed' : 'Not Found' });
      return;
    }
    let body: Buffer = Buffer.alloc(0);
    if (route.method === 'POST') {
      try {
        body = await readBodyLimited(req, route.maxBytes);
      } catch (e) {
        if (isInfonetError(e) && e.code === ErrorCodes.BODY_TOO_LARGE) sendJson(res, 413, { ok: false, detail: e.reason });
        else res.destroy();
        return;
      }
    }
    const r = await endpoints.handle({
      method: route.method, path: route.path, query: url.searchParams, body,
      headers: req.headers, remoteAddress: req.socket.remoteAddress ?? '', transport: 'http',
    });
    send(res, r);
  };

  const server: Server = createServer((req, res) => {
    onRequest(req, res).catch((e: unknown) => {
      log?.error({ err: (e as Error)?.message }, 'peer http request failed');
      if (!res.headersSent) sendJson(res, 500, { ok: false, detail: 'Internal error' });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const urlHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${urlHost}:${addr.port}`,
    port: addr.port,
    host: addr.address,
    routes: PEER_ROUTES.map((r) => `${r.method} ${r.path}`),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
