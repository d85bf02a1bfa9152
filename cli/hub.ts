// `infonet hub run` (a federation hub, bus/hub.ts) and `infonet hub issue-leaf` (a leaf credential for one node).
import { parseArgs } from 'node:util';
import { issueLeafCredential, startHub, type HubHandle, type HubOptions } from '../bus/hub.js';
import { untilStopped } from '../bus/stop-signal.js';
import { ErrorCodes, InfonetError } from '../protocol/errors.js';

const USAGE = `usage:
  infonet hub run --data DIR [--port N] [--leaf-port N] [--domain NAME] [--host H] [--name NAME]
  infonet hub issue-leaf --data DIR --name NAME --node NODE_ID [--out FILE]
      a leaf credential for one node (its own subjects and peer routes only); the node joins with
      infonet node run --leaf nats-leaf://HOST:PORT --leaf-creds FILE. A running hub reloads it at once.`;

type Io = { out: (l: string) => void; err: (l: string) => void };

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
  out(`client url: ${hub.clientUrl}   (administrator credentials: --creds ${hub.adminCreds})`);
  out(`leaf url:   ${hub.leafUrl}`);
  if (hub.server.monitorUrl) out(`monitor:    ${hub.server.monitorUrl}`);
  out(`join a node: infonet hub issue-leaf --data ${opts.dataDir} --name NAME --node NODE_ID, then`);
  out(`             infonet node run --leaf ${hub.leafUrl} --leaf-creds FILE`);
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

async function run(rest: string[], io: Io): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args: rest,
    options: {
      data: { type: 'string' }, port: { type: 'string' }, 'leaf-port': { type: 'string' }, domain: { type: 'string' },
      host: { type: 'string' }, name: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (v.help) {
    io.out(USAGE);
    return 0;
  }
  if (positionals.length || !v.data) {
    io.err(USAGE);
    return 2;
  }
  return runHub({
    dataDir: v.data, port: parsePort(v.port, '--port'), leafPort: parsePort(v['leaf-port'], '--leaf-port'), domain: v.domain,
    host: v.host, serverName: v.name, out: io.out,
  });
}

function issueLeaf(rest: string[], io: Io): number {
  const { values: v, positionals } = parseArgs({
    args: rest,
    options: { data: { type: 'string' }, name: { type: 'string' }, node: { type: 'string' }, out: { type: 'string' } },
    allowPositionals: true,
  });
  if (positionals.length || !v.data || !v.name || !v.node) {
    io.err(USAGE);
    return 2;
  }
  const file = issueLeafCredential(v.data, { name: v.name, nodeId: v.node, out: v.out });
  io.out(file);
  return 0;
}

/** `infonet hub run|issue-leaf …` → exit code (0 ok, 1 runtime failure, 2 bad usage). */
export async function hubCommand(args: string[], io: Io = { out: (l) => console.log(l), err: (l) => console.error(l) }): Promise<number> {
  const [sub, ...rest] = args;
  try {
    if (sub === 'run') return await run(rest, io);
    if (sub === 'issue-leaf') return issueLeaf(rest, io);
    io.err(USAGE);
    return sub === '--help' || sub === '-h' ? 0 : 2;
  } catch (e) {
    const parseError = String((e as { code?: unknown }).code ?? '').startsWith('ERR_PARSE_ARGS');
    if ((e instanceof InfonetError && e.code === ErrorCodes.BAD_INPUT) || parseError) {
      io.err(`hub: ${(e as Error).message}\n${USAGE}`);
      return 2;
    }
    io.err(`hub: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}
