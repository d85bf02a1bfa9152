// The node's peer HTTP listener on fastify 5 (issue 9): routes from protocol/peer-routes.ts, answers from the peer
// application (ports/peer.ts PeerApplication) with `via: 'http'`.
//   * Binds 127.0.0.1 unless told otherwise (§9.1.2: onion traffic arrives through the local hidden service).
//   * The raw body is kept as the exact bytes (a content-type parser returning the Buffer): the HMAC covers them.
//   * Body limits per route on the bytes actually read, chunked bodies included, BEFORE auth (§8.4.1 tightening):
//     fastify refuses a declared Content-Length over the limit unread and stops a stream at the limit; the reply is
//     the spec's 413 text and the connection is closed.
//   * Header, whole-request and idle timeouts on the server (issue 8 item 5: a client dripping a body was never cut).
//   * The private-caller decision sees the socket address, never the Host header (§9.5.2).
//   * Nothing an outsider sends yields 500: fastify's own errors map to 4xx with `{ok:false, detail}`.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { InboundPeerResponse, PeerApplication } from '../ports/peer.js';
import { bodyLimitText, PEER_ROUTES, type PeerRouteSpec } from '../protocol/peer-routes.js';

/** Limits of the listener (ms). A request must arrive whole within `requestTimeoutMs`; headers within `headersTimeoutMs`. */
export const PEER_HTTP_HEADERS_TIMEOUT_MS = 10_000;
/** Long enough for a 512 KiB push over a slow onion circuit (push timeout there is ≥ 180 s, §8.3.4), finite for a drip. */
export const PEER_HTTP_REQUEST_TIMEOUT_MS = 120_000;
/** An idle socket (no bytes either way) is closed after this long. */
export const PEER_HTTP_IDLE_TIMEOUT_MS = 60_000;
export const PEER_HTTP_KEEPALIVE_TIMEOUT_MS = 5_000;
/** Open connections at once; beyond it new sockets are closed on arrival (an outsider cannot hold unbounded sockets). */
export const PEER_HTTP_MAX_CONNECTIONS = 1_024;
/** How often Node checks the header/request deadlines (its default of 30 s would let a dripping client linger). */
const DEADLINE_CHECK_MS = 1_000;

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
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  idleTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  /** Open connections at once (default PEER_HTTP_MAX_CONNECTIONS). */
  maxConnections?: number;
  /**
   * How requests on this listener are classified (default 'http': by socket address and forwarding headers).
   * 'onion' only for the dedicated 127.0.0.1 listener a Tor onion service forwards to (transports/onion/onion-node.ts).
   */
  via?: 'http' | 'onion';
}

function send(reply: FastifyReply, r: InboundPeerResponse): FastifyReply {
  return reply.code(r.status).headers({ 'content-type': 'application/json', ...(r.headers ?? {}) }).send(r.body);
}

/** fastify's own refusals (limits, framing) as the peer API's `{ok:false, detail}`; never a 500 for input. */
function frameworkError(spec: PeerRouteSpec | undefined, err: FastifyError): { status: number; detail: string; close: boolean } {
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || err.statusCode === 413) {
    return { status: 413, detail: bodyLimitText(spec?.maxBytes ?? 0), close: true };
  }
  const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
  return { status, detail: status === 415 ? 'Unsupported Media Type' : 'Bad request', close: true };
}

export async function startPeerHttpServer(app: PeerApplication, opts: PeerHttpServerOptions = {}): Promise<PeerHttpServer> {
  const host = opts.host ?? '127.0.0.1';
  const via = opts.via ?? 'http';
  const log = opts.logger;
  const server = Fastify({
    logger: false,
    connectionTimeout: opts.idleTimeoutMs ?? PEER_HTTP_IDLE_TIMEOUT_MS,
    keepAliveTimeout: opts.keepAliveTimeoutMs ?? PEER_HTTP_KEEPALIVE_TIMEOUT_MS,
    requestTimeout: opts.requestTimeoutMs ?? PEER_HTTP_REQUEST_TIMEOUT_MS,
    bodyLimit: Math.max(...PEER_ROUTES.map((r) => r.maxBytes)),
    // Node's deadline checker runs every DEADLINE_CHECK_MS instead of every 30 s.
    serverFactory: (handler: (req: IncomingMessage, res: ServerResponse) => void) => createServer({
      headersTimeout: opts.headersTimeoutMs ?? PEER_HTTP_HEADERS_TIMEOUT_MS,
      requestTimeout: opts.requestTimeoutMs ?? PEER_HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeout: opts.keepAliveTimeoutMs ?? PEER_HTTP_KEEPALIVE_TIMEOUT_MS,
      connectionsCheckingInterval: DEADLINE_CHECK_MS,
    }, handler),
  });

  // The exact bytes, whatever the content type (the HMAC covers them; JSON parsing is the application's job).
  server.removeAllContentTypeParsers();
  server.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  for (const spec of PEER_ROUTES) {
    server.route({
      method: spec.method,
      url: spec.path,
      ...(spec.method === 'POST' ? { bodyLimit: spec.maxBytes } : {}),
      handler: async (req: FastifyRequest, reply: FastifyReply) => {
        const q = req.raw.url?.indexOf('?') ?? -1;
        const r = await app.handle({
          method: spec.method, path: spec.path,
          query: new URLSearchParams(q >= 0 ? req.raw.url!.slice(q + 1) : ''),
          body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
          headers: req.headers, remoteAddress: req.raw.socket.remoteAddress ?? '', via,
        });
        return send(reply, r);
      },
    });
  }

  server.setNotFoundHandler((req, reply) => {
    const path = (req.raw.url ?? '/').split('?')[0];
    const known = PEER_ROUTES.some((r) => r.path === path);
    return reply.code(known ? 405 : 404).send({ ok: false, detail: known ? 'Method Not Allowed' : 'Not Found' });
  });

  server.setErrorHandler((err: FastifyError, req, reply) => {
    const path = (req.raw.url ?? '/').split('?')[0];
    const spec = PEER_ROUTES.find((r) => r.path === path && r.method === req.method);
    if (!err.statusCode || err.statusCode >= 500) log?.error({ err: err.message, route: path }, 'peer http request failed');
    const e = err.statusCode && err.statusCode >= 500 ? { status: 500, detail: 'Internal error', close: false } : frameworkError(spec, err);
    // A refused body is not drained: the connection closes after the reply.
    if (e.close) reply.header('connection', 'close');
    return reply.code(e.status).header('content-type', 'application/json').send(JSON.stringify({ ok: false, detail: e.detail }));
  });

  server.server.maxConnections = opts.maxConnections ?? PEER_HTTP_MAX_CONNECTIONS;
  await server.listen({ port: opts.port ?? 0, host });
  const addr = server.server.address() as AddressInfo;
  const urlHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${urlHost}:${addr.port}`,
    port: addr.port,
    host: addr.address,
    routes: PEER_ROUTES.map((r) => `${r.method} ${r.path}`),
    close: async () => {
      server.server.closeAllConnections();
      await server.close();
    },
  };
}
