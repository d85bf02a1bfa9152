// `infonet hub run`: a federation hub — a nats-server with a client listener, a leaf-node listener and JetStream
// under a named domain (default "hub"), state in <data>/nats. Nodes join with
// `infonet node run --leaf nats-leaf://HOST:LEAFPORT`, which makes their embedded server a leaf of this hub;
// leaf clients reach the hub's JetStream with `jetstream(nc, {domain: 'hub'})`.

import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ErrorCodes, InfonetError } from '../protocol/errors.js';
import { startNatsServer, type NatsServerHandle } from './nats-server.js';
import { untilStopped } from './stop-signal.js';

export interface HubOptions {
  dataDir: string;
  /** Client port; 0/omitted = free port. */
  port?: number;
  /** Leaf listener port; 0/omitted = free port. (7422 is the conventional leaf port.) */
  leafPort?: number;
  /** JetStream domain. Default 'hub'. */
  domain?: string;
  /** Interface to bind. Default 127.0.0.1; use 0.0.0.0 to accept remote leaves. */
  host?: string;
  /** Stable server name. Default 'infonet-hub'. */
  serverName?: string;
  /** Monitoring: true (default, free port), false, or a port. */
  monitor?: boolean | number;
}

export interface HubHandle {
  server: NatsServerHandle;
  clientUrl: string;
  leafUrl: string;
  domain: string;
  stop(): Promise<void>;
}

/** Starts a hub server (no signal handling; see runHub for the CLI behaviour). */
export async function startHub(opts: HubOptions): Promise<HubHandle> {
  const domain = opts.domain ?? 'hub';
  if (!/^[A-Za-z0-9_-]+$/.test(domain)) throw new InfonetError(ErrorCodes.BAD_INPUT, `invalid JetStream domain: ${domain}`);
  const dataDir = resolve(opts.dataDir);
  const natsDir = join(dataDir, 'nats');
  mkdirSync(natsDir, { recursive: true });
  const server = await startNatsServer({
    serverName: opts.serverName ?? 'infonet-hub',
    host: opts.host ?? '127.0.0.1',
    port: opts.port ?? 0,
    jetstream: { storeDir: join(natsDir, 'jetstream'), domain },
    leafListen: { port: opts.leafPort ?? 0 },
    monitor: opts.monitor ?? true,
    configDir: natsDir,
    logFile: join(natsDir, 'hub.log'),
  });
  return { server, clientUrl: server.clientUrl, leafUrl: server.leafUrl!, domain, stop: () => server.stop() };
}

export interface RunHubOptions extends HubOptions {
  out?: (line: string) => void;
  /** Resolving this stops the hub (in addition to SIGINT/SIGTERM). */
  stopSignal?: Promise<void>;
  /** Called once the hub is up (tests use it to get the handle). */
  onReady?: (hub: HubHandle) => void;
}

/** Starts the hub, prints its urls, and runs until SIGINT/SIGTERM (or stopSignal) or the server dies. */
export async function runHub(opts: RunHubOptions): Promise<number> {
  const out = opts.out ?? ((l: string) => console.log(l));
  const hub = await startHub(opts);
  out(`hub ${hub.server.serverName} ready (JetStream domain "${hub.domain}")`);
  out(`client url: ${hub.clientUrl}`);
  out(`leaf url:   ${hub.leafUrl}`);
  if (hub.server.monitorUrl) out(`monitor:    ${hub.server.monitorUrl}`);
  out(`join a node with: infonet node run --leaf ${hub.leafUrl}`);
  opts.onReady?.(hub);

  const why = await untilStopped({ exited: hub.server.exited, stop: opts.stopSignal });
  if (why === 'exited') {
    out(`hub server exited unexpectedly\n${hub.server.logTail()}`);
    return 1;
  }
  out(`stopping hub (${why})`);
  await hub.stop();
  return 0;
}

function parsePort(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InfonetError(ErrorCodes.BAD_INPUT, `${flag} must be a port number`);
  return n;
}

/** `infonet hub run --data DIR [--port N] [--leaf-port N] [--domain NAME] [--host H] [--name NAME]` → exit code. */
export async function hubCommand(args: string[], io: { out: (l: string) => void; err: (l: string) => void } = {
  out: (l) => console.log(l),
  err: (l) => console.error(l),
}): Promise<number> {
  const usage = 'usage: infonet hub run --data DIR [--port N] [--leaf-port N] [--domain NAME] [--host H] [--name NAME]';
  // accept both `hub run --data …` and `--data …` (the dispatcher may or may not strip "run")
  const rest = args[0] === 'run' ? args.slice(1) : args;
  try {
    const { values: v, positionals } = parseArgs({
      args: rest,
      options: {
        data: { type: 'string' },
        port: { type: 'string' },
        'leaf-port': { type: 'string' },
        domain: { type: 'string' },
        host: { type: 'string' },
        name: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
    });
    if (v.help) {
      io.out(usage);
      return 0;
    }
    if (positionals.length || !v.data) {
      io.err(usage);
      return 2;
    }
    return await runHub({
      dataDir: v.data,
      port: parsePort(v.port, '--port'),
      leafPort: parsePort(v['leaf-port'], '--leaf-port'),
      domain: v.domain,
      host: v.host,
      serverName: v.name,
      out: io.out,
    });
  } catch (e) {
    const parseError = String((e as { code?: unknown }).code ?? '').startsWith('ERR_PARSE_ARGS');
    if ((e instanceof InfonetError && e.code === ErrorCodes.BAD_INPUT) || parseError) {
      io.err(`hub: ${(e as Error).message}\n${usage}`);
      return 2;
    }
    io.err(`hub: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}
