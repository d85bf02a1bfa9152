// GET /metrics on the local API (issue 13, docs/metrics.md): Prometheus text format. Needs the per-node API token
// (Authorization: Bearer <token>, as Prometheus' `authorization` scrape setting sends it) unless the operator chose
// --metrics-public-loopback (the API still listens on 127.0.0.1 only, so "public" means any local process).
import type { FastifyInstance } from 'fastify';
import { ErrorCodes } from '../protocol/errors.js';

export interface MetricsRouteOptions {
  text(): Promise<string>;
  contentType: string;
  /** Serve without the token (still 127.0.0.1 only). */
  publicLoopback?: boolean;
}

export function registerMetricsRoute(app: FastifyInstance, authorized: (authorization: unknown) => boolean, opts: MetricsRouteOptions): void {
  app.get('/metrics', async (req, reply) => {
    if (!opts.publicLoopback && !authorized(req.headers.authorization)) {
      return reply.code(401).send({ ok: false, error: { code: ErrorCodes.PEER_AUTH, reason: 'missing or wrong API token (see `infonet console url`)' } });
    }
    return reply.type(opts.contentType).send(await opts.text());
  });
}
