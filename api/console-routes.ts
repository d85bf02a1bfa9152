// The operator console on the local API (issue 13, docs/console.md). Token flow like notebook servers: the link
// `/console/?token=<api token>` (printed by `infonet console url`) sets an HttpOnly, SameSite=Strict cookie and
// redirects to the token-free URL; every console route then needs that cookie (or the Authorization header). No
// token → a 401 page that says how to get the link. Live updates: one SSE stream per page, pushed from the node's
// chain notices and link-state changes (no polling from the page). Client: Preact + htm as ES modules served from
// node_modules (no build step, nothing from the network).
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Observable } from 'rxjs';
import { registerConsoleGateRoutes, type GateCommands } from './console-gate-routes.js';

export const CONSOLE_COOKIE = 'infonet_console';

export interface ConsoleRouteOptions {
  /** The node's status (node.status on the bus). */
  status(): Promise<unknown>;
  /** Something changed (chain notice, link state): the console pushes a fresh status. */
  changes$: Observable<unknown>;
  /** The data directory, named in the 401 page's instructions. */
  dataDir: string;
  /** Chain length and a page of events [from, from+limit) for the Chain page (metadata only leaves the node). */
  chain?: { length(): number; readRange(from: number, limit: number): Promise<Array<{ event_id: string; event_type: string; node_id: string; timestamp: number; payload: unknown }>> };
  /** The node's MLS handler table (the one the local API and the CLI use): the Gate directory and its actions. */
  gateCommands?: GateCommands;
}

export const CHAIN_PAGE_MAX = 50;

function packageRequire(): NodeRequire {
  // The node may run from any cwd: try the cwd's package, then the entry script's.
  for (const base of [join(process.cwd(), 'package.json'), process.argv[1] ?? '']) {
    try {
      const req = createRequire(base);
      req.resolve('preact');
      return req;
    } catch { /* next */ }
  }
  throw new Error('preact not found: run the node from the infonet checkout');
}

interface Assets { files: Map<string, { type: string; body: string }> }
let assets: Assets | undefined;

function loadAssets(): Assets {
  if (assets) return assets;
  const req = packageRequire();
  const pkgDir = (name: string): string => dirname(req.resolve(`${name}/package.json`));
  const root = resolveRoot(pkgDir('preact'));
  const js = 'text/javascript; charset=utf-8';
  const files = new Map<string, { type: string; body: string }>([
    ['vendor/preact.mjs', { type: js, body: readFileSync(join(pkgDir('preact'), 'dist/preact.mjs'), 'utf8') }],
    ['vendor/hooks.mjs', { type: js, body: readFileSync(join(pkgDir('preact'), 'hooks/dist/hooks.mjs'), 'utf8') }],
    ['vendor/htm.mjs', { type: js, body: readFileSync(join(pkgDir('htm'), 'dist/htm.module.js'), 'utf8') }],
    ['vendor/uplot.mjs', { type: js, body: readFileSync(join(pkgDir('uplot'), 'dist/uPlot.esm.js'), 'utf8') }],
    ['vendor/uplot.css', { type: 'text/css; charset=utf-8', body: readFileSync(join(pkgDir('uplot'), 'dist/uPlot.min.css'), 'utf8') }],
    ['app.js', { type: js, body: readFileSync(join(root, 'console', 'app.js'), 'utf8') }],
    ['gates.js', { type: js, body: readFileSync(join(root, 'console', 'gates.js'), 'utf8') }],
    ['console.css', { type: 'text/css; charset=utf-8', body: readFileSync(join(root, 'console', 'console.css'), 'utf8') }],
  ]);
  assets = { files };
  return assets;
}

/** node_modules/preact → the checkout holding console/. */
const resolveRoot = (preactDir: string): string => dirname(dirname(preactDir));

const IMPORT_MAP = JSON.stringify({
  imports: { preact: '/console/vendor/preact.mjs', 'preact/hooks': '/console/vendor/hooks.mjs', htm: '/console/vendor/htm.mjs', uplot: '/console/vendor/uplot.mjs' },
});

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>infonet console</title><link rel="stylesheet" href="/console/vendor/uplot.css"><link rel="stylesheet" href="/console/console.css">
<script type="importmap">${IMPORT_MAP}</script></head>
<body><div id="app"><main><h1>infonet console</h1><p>Loading…</p></main></div>
<script type="module" src="/console/app.js"></script></body></html>`;

const unauthorizedPage = (dataDir: string): string => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>infonet console — token needed</title></head>
<body><main><h1>Token needed</h1>
<p>The console needs this node's API token. Get a ready-to-open link on the node's machine with:</p>
<pre><code>infonet console url --data ${escapeHtml(dataDir)}</code></pre>
<p>The link carries the token once; the console then keeps it in a cookie for this browser only.</p></main></body></html>`;

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function cookieToken(req: FastifyRequest): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === CONSOLE_COOKIE) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

export function registerConsoleRoutes(app: FastifyInstance, authorized: (authorization: unknown) => boolean, opts: ConsoleRouteOptions): void {
  const allowed = (req: FastifyRequest): boolean => {
    const c = cookieToken(req);
    return (c !== undefined && authorized(`Bearer ${c}`)) || authorized(req.headers.authorization);
  };
  const deny = (reply: FastifyReply): FastifyReply => reply.code(401).type('text/html; charset=utf-8').send(unauthorizedPage(opts.dataDir));

  app.get('/console', (_req, reply) => reply.redirect('/console/'));
  app.get('/console/', (req, reply) => {
    const token = (req.query as { token?: string }).token;
    if (typeof token === 'string') {
      if (!authorized(`Bearer ${token}`)) return deny(reply);
      // The token leaves the address bar (and history) at once.
      return reply
        .header('set-cookie', `${CONSOLE_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`)
        .redirect('/console/');
    }
    if (!allowed(req)) return deny(reply);
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(PAGE);
  });

  app.get('/console/:a/:b?', (req, reply) => {
    if (!allowed(req)) return deny(reply);
    const { a, b } = req.params as { a: string; b?: string };
    const f = loadAssets().files.get(b ? `${a}/${b}` : a);
    if (!f) return reply.code(404).send({ ok: false, error: { code: 'not_found', reason: 'no such console file' } });
    return reply.type(f.type).send(f.body);
  });

  app.get('/console-api/status', async (req, reply) => {
    if (!allowed(req)) return deny(reply);
    return { ok: true, result: await opts.status() };
  });

  // Chain page: newest first, metadata only — type, author, time, payload size; never payload contents (private
  // events show as their kind and ciphertext size).
  app.get('/console-api/chain', async (req, reply) => {
    if (!allowed(req) || !opts.chain) return deny(reply);
    const length = opts.chain.length();
    const q = req.query as { before?: string };
    const before = Math.min(length, q.before !== undefined && /^\d{1,12}$/.test(q.before) ? Number(q.before) : length);
    const from = Math.max(0, before - CHAIN_PAGE_MAX);
    const events = await opts.chain.readRange(from, before - from);
    return {
      ok: true,
      result: {
        length, from, before,
        events: events.map((e, i) => ({
          height: from + i, event_id: e.event_id, event_type: e.event_type, author: e.node_id, timestamp: e.timestamp,
          size: Buffer.byteLength(JSON.stringify(e.payload ?? null)),
        })).reverse(),
      },
    };
  });

  // Gate directory and its actions (api/console-gate-routes.ts): the same MLS handlers as the API and the CLI.
  if (opts.gateCommands) registerConsoleGateRoutes(app, allowed, deny, opts.gateCommands);

  const streams = new Set<() => void>();
  // Open SSE streams would hold app.close() forever: end them first.
  app.addHook('preClose', (done) => { for (const end of streams) end(); done(); });

  app.get('/console-api/events', (req, reply) => {
    if (!allowed(req)) return deny(reply);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    let sending = false;
    let again = false;
    let last = '';
    const push = async (onlyIfChanged = false): Promise<void> => {
      if (sending) { again ||= !onlyIfChanged; return; }
      sending = true;
      try {
        do {
          again = false;
          const s = await opts.status();
          const mark = fingerprint(s);
          if (onlyIfChanged && mark === last) break;
          last = mark;
          if (!res.writableEnded) res.write(`event: status\ndata: ${JSON.stringify(s)}\n\n`);
        } while (again);
      } catch { /* node stopping: the stream ends with it */ } finally { sending = false; }
    };
    void push();
    const sub = opts.changes$.subscribe(() => void push());
    // Peer links have no state stream yet: the node (not the page) checks them each second and pushes on change.
    // Every CHART_SAMPLE_TICKS-th check pushes even without change, so the page's charts get a sample per interval.
    let ticks = 0;
    const timer = setInterval(() => void push(++ticks % CHART_SAMPLE_TICKS !== 0), LINK_CHECK_MS);
    const end = (): void => {
      clearInterval(timer);
      sub.unsubscribe();
      streams.delete(end);
      if (!res.writableEnded) res.end();
    };
    streams.add(end);
    req.raw.on('close', end);
  });
}

const LINK_CHECK_MS = 1000;
const CHART_SAMPLE_TICKS = 5;

/** What the page shows that can change without a chain notice: link states, outbox depths, errors, height, and the
 *  mailbox counts and pending messages per class (a replicated gate invitation arriving is a pending invitation on
 *  the Gates page). */
function fingerprint(s: unknown): string {
  const st = s as { height?: number; mailboxes?: { stored?: number; live?: number; stats?: { pending?: unknown } }; replication?: { peers?: Array<{ url: string; state: string; queued: number; last_error?: string }> } };
  const mb = st.mailboxes;
  return JSON.stringify([st.height, mb?.stored, mb?.live, mb?.stats?.pending, (st.replication?.peers ?? []).map((p) => [p.url, p.state, p.queued, p.last_error])]);
}
