// The node's local HTTP API (issue 12): 127.0.0.1 only, one bearer token per node kept in the data directory
// (<data>/api.token, mode 600, stable across restarts); <data>/api.json tells local tools where the running node
// listens (url + pid). Every route maps to the same handler table the bus serves: POST /api/v1/<command> with a JSON
// body, e.g. /api/v1/gate.post. Errors are the bus's typed errors with an HTTP status — never a 500 for a rule.
import { timingSafeEqual, createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { ErrorCodes, InfonetError } from '../protocol/errors.js';

export const API_TOKEN_FILE = 'api.token';
export const API_INFO_FILE = 'api.json';
export const API_BODY_LIMIT = 1024 * 1024;

export interface LocalApiOptions {
  dataDir: string;
  /** 0 = any free port. */
  port?: number;
  handlers: Record<string, (body: unknown) => Promise<unknown>>;
  /** Extra routes (issue 13: /metrics, the console), given the same constant-time token check. */
  routes?: (app: FastifyInstance, authorized: (authorization: unknown) => boolean) => void;
}

export interface LocalApi {
  url: string;
  stop(): Promise<void>;
}

export function loadOrCreateApiToken(dataDir: string): string {
  const file = join(dataDir, API_TOKEN_FILE);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const token = randomBytes(32).toString('hex');
  writeFileSync(`${file}.tmp`, token + '\n', { mode: 0o600 });
  chmodSync(`${file}.tmp`, 0o600);
  renameSync(`${file}.tmp`, file);
  return token;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

const STATUS: Partial<Record<string, number>> = {
  [ErrorCodes.NOT_FOUND]: 404,
  [ErrorCodes.GATE_STATE_STALE]: 409,
  [ErrorCodes.GATE_LOCKED]: 423,
  [ErrorCodes.NOT_MEMBER]: 403,
  [ErrorCodes.UNAVAILABLE]: 503,
  [ErrorCodes.INTERNAL]: 500,
};

/** A handler's failure as an HTTP answer: typed errors keep code and reason (a rule is a 4xx); anything else is a 500
 *  that names only the command (never the body: it may hold a post's text). Also used by the console's gate actions. */
export function apiErrorOf(e: unknown, command: string): { status: number; body: { ok: false; error: { code: string; reason: string; details?: Record<string, unknown> } } } {
  if (e instanceof InfonetError) return { status: STATUS[e.code] ?? 400, body: { ok: false, error: e.toJSON() } };
  return { status: 500, body: { ok: false, error: { code: ErrorCodes.INTERNAL, reason: `internal error in ${command}` } } };
}

export async function startLocalApi(opts: LocalApiOptions): Promise<LocalApi> {
  const token = loadOrCreateApiToken(opts.dataDir);
  const expected = digest(`Bearer ${token}`);
  const app: FastifyInstance = Fastify({ logger: false, bodyLimit: API_BODY_LIMIT });
  const fail = (reply: { code(n: number): { send(b: unknown): unknown } }, status: number, code: string, reason: string): unknown =>
    reply.code(status).send({ ok: false, error: { code, reason } });

  app.setErrorHandler((err: { statusCode?: number; message?: string }, _req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
    void fail(reply, status, status === 413 ? ErrorCodes.BODY_TOO_LARGE : ErrorCodes.INVALID_JSON, err.message ?? 'bad request');
  });

  app.get('/api/v1/health', async () => ({ ok: true }));
  opts.routes?.(app, (authorization) => timingSafeEqual(digest(String(authorization ?? '')), expected));

  app.post('/api/v1/:command', async (req, reply) => {
    // Constant-time: compare fixed-size digests of the header.
    if (!timingSafeEqual(digest(String(req.headers.authorization ?? '')), expected)) return fail(reply, 401, ErrorCodes.PEER_AUTH, 'missing or wrong API token');
    const name = (req.params as { command: string }).command;
    const handler = Object.prototype.hasOwnProperty.call(opts.handlers, name) ? opts.handlers[name] : undefined;
    if (!handler) return fail(reply, 404, ErrorCodes.NOT_FOUND, `unknown command ${name}`);
    try {
      return { ok: true, result: await handler(req.body ?? {}) };
    } catch (e) {
      const { status, body } = apiErrorOf(e, name);
      return reply.code(status).send(body);
    }
  });

  const address = await app.listen({ host: '127.0.0.1', port: opts.port ?? 0 });
  const info = join(opts.dataDir, API_INFO_FILE);
  writeFileSync(`${info}.tmp`, JSON.stringify({ url: address, pid: process.pid }) + '\n', { mode: 0o600 });
  renameSync(`${info}.tmp`, info);
  return {
    url: address,
    async stop() {
      await app.close();
      rmSync(info, { force: true });
    },
  };
}
