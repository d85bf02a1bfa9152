// Launching and stopping nats-server processes: the node's embedded bus, the federation hub, and the servers that
// tests start. Every server gets a generated config file (not flags) so leaf remotes, JetStream domains and the
// monitoring port are all expressed the same way; readiness is detected by watching the log for "Server is ready".
//
// Facts this relies on (shared/spec/toolchain-notes.md, "NATS server"):
// - nats-server 2.9.10 logs to stderr by default and prints "Server is ready" once all listeners are up.
// - JetStream across a leaf link only works through a JetStream domain; a leaf that runs its own JetStream therefore
//   needs a domain of its own (we default it from the server name, see `defaultDomainFor`).
// - server_name must be stable across restarts (JetStream keys its state on it), so callers always supply it.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join, relative } from 'node:path';
import { ErrorCodes, InfonetError } from '../protocol/errors.js';
import { renderAuthorization, type AuthUser } from './permissions.js';

export const NATS_INSTALL_HINT =
  'nats-server was not found on PATH nor at /usr/sbin/nats-server or /usr/bin/nats-server. ' +
  'Install it with `apt-get install nats-server` (Debian/Ubuntu), or download a release from ' +
  'https://github.com/nats-io/nats-server/releases and put it on PATH, or pass --nats URL to use an existing server.';

const WELL_KNOWN_PATHS = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'];

export function isExecutableFile(p: string): boolean {
  try {
    const st = statSync(p);
    // any execute bit; good enough for a lookup (spawn reports the real error if not runnable)
    return st.isFile() && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/**
 * Locates the nats-server binary: $NATS_SERVER_BIN, then PATH, then the Debian/usual locations.
 * Throws InfonetError(UNAVAILABLE) with install instructions when it is missing.
 */
export function findNatsServer(env: NodeJS.ProcessEnv = process.env, wellKnown: readonly string[] = WELL_KNOWN_PATHS): string {
  const override = env.NATS_SERVER_BIN;
  if (override && isExecutableFile(override)) return override;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, 'nats-server');
    if (isExecutableFile(candidate)) return candidate;
  }
  for (const p of wellKnown) if (isExecutableFile(p)) return p;
  throw new InfonetError(ErrorCodes.UNAVAILABLE, NATS_INSTALL_HINT, { searched: ['$PATH', ...wellKnown] });
}

/** Version string of the binary (e.g. "v2.9.10"), or null if it cannot be run. */
export function natsServerVersion(bin = findNatsServer()): string | null {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 5000 });
  if (r.status !== 0) return null;
  const m = /v\d+\.\d+\.\d+\S*/.exec(r.stdout + r.stderr);
  return m ? m[0] : null;
}

/**
 * Ports freePort() picks from: below Linux's default ephemeral range (32768–60999), from which the kernel hands out
 * port 0 binds and outgoing connections. A port picked from that range and released again could be handed to another
 * process's port-0 bind before its user listened on it (a test's mesh picks its nodes' ports before starting them).
 */
const PICK_FROM = 20_000;
const PICK_TO = 32_000;

/** Binds `port` on `host` (0: the kernel picks) and releases it: the port that was bound, or why none was. */
function bindOnce(host: string, port: number): Promise<number | Error> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', resolve);
    srv.listen({ host, port, exclusive: true }, () => {
      const addr = srv.address();
      const bound = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(bound || new Error('could not determine a free port')));
    });
  });
}

/**
 * A free TCP port on `host`: a random one below the ephemeral range that binds, else one the kernel assigns.
 * (Racy by nature — another process may take it before it is used; startNatsServer retries.)
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let tries = 0; tries < 20; tries++) {
    const port = await bindOnce(host, PICK_FROM + Math.floor(Math.random() * (PICK_TO - PICK_FROM)));
    if (typeof port === 'number') return port;
  }
  const port = await bindOnce(host, 0);
  if (typeof port !== 'number') throw port;
  return port;
}

export interface JetStreamOptions {
  storeDir: string;
  /** JetStream domain. Required for JetStream across leaf links; defaulted from serverName on leaf servers. */
  domain?: string;
  /** Limits, e.g. "256MB" or bytes; server defaults when omitted. */
  maxMemoryStore?: string | number;
  maxFileStore?: string | number;
}

export interface NatsServerOptions {
  /** Stable server name (JetStream state is keyed on it). Must be a single token: [A-Za-z0-9_-]. */
  serverName: string;
  /** Interface for client, leaf and monitoring listeners. Default 127.0.0.1. */
  host?: string;
  /** Client port; 0 or omitted picks a free port. */
  port?: number;
  jetstream?: JetStreamOptions;
  /** Open a leaf-node listener (hub role). `true` picks a free port; `{port}` fixes it. */
  leafListen?: boolean | { port?: number; host?: string };
  /** Hubs to connect to as a leaf, e.g. ["nats-leaf://10.0.0.5:7422"]. */
  leafRemotes?: string[];
  /** User/password the leaf link presents to its hub(s) (issued by `infonet hub issue-leaf`). */
  leafCredentials?: { user: string; password: string };
  /**
   * Client authentication (docs/bus-auth.md): the users and their subject permissions, or a file holding the
   * `authorization {}` block (included, so it can be rewritten and reloaded with SIGHUP while the server runs).
   * Omitted: no authentication (test servers that ask for none).
   */
  authorization?: AuthUser[] | { includeFile: string };
  /** HTTP monitoring (/varz, /leafz, /jsz …). `true` (default) picks a free port; false disables; number fixes it. */
  monitor?: boolean | number;
  /** Append the server's log to this file (it is also kept in memory for error messages). */
  logFile?: string;
  /** Where to write the generated config. Default: a fresh temp dir, removed on stop. */
  configDir?: string;
  /**
   * Record the server's pid here. A server left running by a parent that was killed with SIGKILL (it
   * never got to stop it) is found through this file at the next start and killed before a new one
   * starts on the same JetStream store.
   */
  pidFile?: string;
  /** Explicit binary; default findNatsServer(). */
  bin?: string;
  /** Readiness timeout. Default 10 s. */
  readyTimeoutMs?: number;
  /** Extra raw config lines appended verbatim (escape hatch). */
  extraConfig?: string;
}

export interface NatsServerHandle {
  /** nats://host:port for clients. */
  clientUrl: string;
  port: number;
  host: string;
  /** Leaf listener port when leafListen was requested. */
  leafPort?: number;
  /** nats-leaf://host:leafPort when leafListen was requested. */
  leafUrl?: string;
  /** http://host:port of the monitoring endpoint when enabled. */
  monitorUrl?: string;
  serverName: string;
  jetstreamDomain?: string;
  pid: number;
  configFile: string;
  /** Last log lines (bounded). */
  logTail(): string;
  /** Resolves when the process has exited (for whatever reason). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, wait for exit, SIGKILL after `killAfterMs` (default 5 s). Idempotent. */
  stop(killAfterMs?: number): Promise<void>;
}

const TOKEN_RE = /^[A-Za-z0-9_-]+$/;

/** JetStream domain used for a leaf server that runs its own JetStream but was given no domain. */
export function defaultDomainFor(serverName: string): string {
  return serverName.replace(/[^A-Za-z0-9_-]/g, '_');
}

function q(s: string): string {
  return JSON.stringify(s); // NATS conf accepts JSON-style double-quoted strings
}

function sizeValue(v: string | number): string {
  return typeof v === 'number' ? String(v) : v;
}

/** `nats-leaf://host:port` → `nats-leaf://user:password@host:port` (URL-encoded; an existing user part is kept). */
function withUserInfo(url: string, c: { user: string; password: string } | undefined): string {
  if (!c) return url;
  try {
    const u = new URL(url);
    if (u.username) return url;
    u.username = encodeURIComponent(c.user);
    u.password = encodeURIComponent(c.password);
    return u.toString().replace(/\/$/, '');
  } catch {
    throw new InfonetError(ErrorCodes.BAD_INPUT, `invalid leaf url: ${JSON.stringify(url)}`);
  }
}

interface ResolvedPorts {
  port: number;
  leafPort?: number;
  leafHost?: string;
  monitorPort?: number;
}

/** Renders a nats-server config file. Exported for tests and for `infonet hub run --print-config` style tooling. */
export function renderConfig(opts: NatsServerOptions, ports: ResolvedPorts): { text: string; domain?: string } {
  const host = opts.host ?? '127.0.0.1';
  const lines: string[] = [];
  lines.push(`# generated by infonet bus/nats-server.ts`);
  lines.push(`server_name: ${q(opts.serverName)}`);
  lines.push(`listen: ${q(`${host}:${ports.port}`)}`);
  if (ports.monitorPort !== undefined) lines.push(`http: ${q(`${host}:${ports.monitorPort}`)}`);
  lines.push(`logtime: true`);
  // Large bodies (chain batches) are capped by the node itself; keep the server default max_payload (1 MB).
  let domain: string | undefined;
  if (opts.jetstream) {
    domain = opts.jetstream.domain ?? (opts.leafRemotes?.length ? defaultDomainFor(opts.serverName) : undefined);
    const js: string[] = [`store_dir: ${q(opts.jetstream.storeDir)}`];
    if (domain) js.push(`domain: ${q(domain)}`);
    if (opts.jetstream.maxMemoryStore !== undefined) js.push(`max_memory_store: ${sizeValue(opts.jetstream.maxMemoryStore)}`);
    if (opts.jetstream.maxFileStore !== undefined) js.push(`max_file_store: ${sizeValue(opts.jetstream.maxFileStore)}`);
    lines.push(`jetstream {\n  ${js.join('\n  ')}\n}`);
  }
  const leaf: string[] = [];
  if (ports.leafPort !== undefined) leaf.push(`listen: ${q(`${ports.leafHost ?? host}:${ports.leafPort}`)}`);
  if (opts.leafRemotes?.length) {
    const remotes = opts.leafRemotes.map((u) => `{ url: ${q(withUserInfo(u, opts.leafCredentials))} }`).join(', ');
    leaf.push(`remotes: [ ${remotes} ]`);
  }
  if (leaf.length) lines.push(`leafnodes {\n  ${leaf.join('\n  ')}\n}`);
  if (Array.isArray(opts.authorization)) lines.push(renderAuthorization(opts.authorization));
  // nats-server resolves include paths relative to the config file's directory
  else if (opts.authorization) lines.push(`include ${q(relative(opts.configDir ?? '.', opts.authorization.includeFile))}`);
  if (opts.extraConfig) lines.push(opts.extraConfig);
  return { text: lines.join('\n') + '\n', domain };
}

// Children still running when this process exits get SIGKILLed, so a crashed test run or node never leaks servers.
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function trackChild(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of live) {
        try {
          c.kill('SIGKILL');
        } catch {
          /* already gone */
        }
      }
    });
  }
}

const MAX_LOG_LINES = 200;
const BIND_ERROR_RE = /address already in use|bind: /i;

class StartupError extends Error {
  constructor(
    message: string,
    readonly tail: string,
    readonly bindError: boolean,
  ) {
    super(message);
  }
}

/**
 * Starts a nats-server and resolves once it logs "Server is ready". Ports given as 0/omitted are picked here
 * (bind :0, read, close) and the start is retried with fresh ports if one was taken in between.
 */
function removePidFileIfOurs(pidFile: string, pid: number | undefined): void {
  try {
    if (Number(readFileSync(pidFile, 'utf8').trim()) === pid) rmSync(pidFile, { force: true });
  } catch {
    // already gone
  }
}

/** Kills a nats-server whose pid a previous (killed) owner left in `pidFile`, and waits until it is gone. */
export async function reapStaleServer(pidFile: string): Promise<boolean> {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
  } catch {
    return false;
  }
  const isNatsServer = (): boolean => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('nats-server') && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
    } catch {
      return false;
    }
  };
  rmSync(pidFile, { force: true });
  if (!Number.isInteger(pid) || pid <= 0 || !isNatsServer()) return false;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return false;
  }
  for (let i = 0; i < 100 && isNatsServer(); i++) await new Promise((r) => setTimeout(r, 20));
  return true;
}

export async function startNatsServer(opts: NatsServerOptions): Promise<NatsServerHandle> {
  if (!TOKEN_RE.test(opts.serverName)) {
    throw new InfonetError(ErrorCodes.BAD_INPUT, `server name must match ${TOKEN_RE}: ${JSON.stringify(opts.serverName)}`);
  }
  const bin = opts.bin ?? findNatsServer();
  const attempts = 4;
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      return await startOnce(bin, opts);
    } catch (e) {
      last = e;
      if (e instanceof StartupError && e.bindError && hasAutoPorts(opts) && i < attempts - 1) continue;
      break;
    }
  }
  if (last instanceof StartupError) {
    throw new InfonetError(ErrorCodes.UNAVAILABLE, `nats-server ${opts.serverName} failed to start: ${last.message}`, {
      logTail: last.tail,
    });
  }
  throw last;
}

function hasAutoPorts(opts: NatsServerOptions): boolean {
  const leafAuto = opts.leafListen === true || (typeof opts.leafListen === 'object' && !opts.leafListen.port);
  const monitorAuto = opts.monitor === undefined || opts.monitor === true;
  return !opts.port || leafAuto || monitorAuto;
}

async function startOnce(bin: string, opts: NatsServerOptions): Promise<NatsServerHandle> {
  const host = opts.host ?? '127.0.0.1';
  const ports: ResolvedPorts = { port: opts.port && opts.port > 0 ? opts.port : await freePort(host) };
  if (opts.leafListen) {
    const ll = opts.leafListen === true ? {} : opts.leafListen;
    ports.leafHost = ll.host ?? host;
    ports.leafPort = ll.port && ll.port > 0 ? ll.port : await freePort(ports.leafHost);
  }
  const monitor = opts.monitor ?? true;
  if (monitor !== false) ports.monitorPort = typeof monitor === 'number' && monitor > 0 ? monitor : await freePort(host);

  if (opts.jetstream) mkdirSync(opts.jetstream.storeDir, { recursive: true });
  const ownConfigDir = !opts.configDir;
  const configDir = opts.configDir ?? mkdtempSync(join(tmpdir(), `infonet-nats-${opts.serverName}-`));
  mkdirSync(configDir, { recursive: true });
  const configFile = join(configDir, `${opts.serverName}.conf`);
  const { text, domain } = renderConfig({ ...opts, configDir }, ports);
  // mode 600: the config may hold leaf passwords and the users' public keys
  writeFileSync(configFile, text, { mode: 0o600 });
  chmodSync(configFile, 0o600);

  const cleanupConfig = (): void => {
    if (ownConfigDir) rmSync(configDir, { recursive: true, force: true });
  };

  if (opts.pidFile) await reapStaleServer(opts.pidFile);
  const child = spawn(bin, ['-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child);
  if (opts.pidFile && child.pid) writeFileSync(opts.pidFile, `${child.pid}\n`);

  const lines: string[] = [];
  let logStream: WriteStream | undefined;
  if (opts.logFile) {
    logStream = createWriteStream(opts.logFile, { flags: 'a' });
    // The log file is a copy for operators; failing to write it must not take the process down.
    logStream.on('error', () => undefined);
  }
  let partial = '';
  let readyResolve!: () => void;
  const ready = new Promise<void>((r) => (readyResolve = r));
  const onData = (chunk: Buffer): void => {
    logStream?.write(chunk);
    partial += chunk.toString('utf8');
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      lines.push(line);
      if (lines.length > MAX_LOG_LINES) lines.shift();
      if (line.includes('Server is ready')) readyResolve();
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const logTail = (): string => [...lines, partial].filter(Boolean).slice(-40).join('\n');

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    // 'close', not 'exit': it comes after the stdout/stderr pipes are drained and closed, so no log chunk
    // arrives after the log file is ended, and stop() resolves only once the log file's descriptor is closed.
    child.once('close', (code, signal) => {
      if (opts.pidFile) removePidFileIfOurs(opts.pidFile, child.pid);
      const done = () => resolve({ code, signal });
      if (!logStream || logStream.closed || logStream.destroyed) return done();
      logStream.once('close', done);
      logStream.end();
    });
  });
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));

  const timeoutMs = opts.readyTimeoutMs ?? 10_000;
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    ready.then(() => ({ kind: 'ready' as const })),
    exited.then((x) => ({ kind: 'exited' as const, ...x })),
    spawnError.then((err) => ({ kind: 'error' as const, err })),
    // After a long event-loop stall the deadline timer runs before the pipe data that arrived meanwhile is read
    // ("not ready" with "Server is ready" in the log tail): let one poll phase read it before calling it a timeout.
    new Promise<{ kind: 'timeout' }>((r) => (timer = setTimeout(() => setImmediate(() => setImmediate(() => r({ kind: 'timeout' }))), timeoutMs))),
  ]);
  clearTimeout(timer);

  if (outcome.kind !== 'ready') {
    if (outcome.kind === 'timeout' || outcome.kind === 'error') {
      child.kill('SIGKILL');
      await exited;
    }
    cleanupConfig();
    const tail = logTail();
    const msg =
      outcome.kind === 'exited'
        ? `process exited (code ${outcome.code}, signal ${outcome.signal}) before it was ready`
        : outcome.kind === 'error'
          ? `could not spawn ${bin}: ${outcome.err.message}`
          : `not ready after ${timeoutMs} ms`;
    throw new StartupError(`${msg}\n--- log tail ---\n${tail}`, tail, BIND_ERROR_RE.test(tail));
  }

  let stopping: Promise<void> | undefined;
  const stop = (killAfterMs = 5000): Promise<void> => {
    if (!stopping) {
      stopping = (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          let t: NodeJS.Timeout | undefined;
          const killed = await Promise.race([
            exited.then(() => false),
            new Promise<boolean>((r) => (t = setTimeout(() => r(true), killAfterMs))),
          ]);
          clearTimeout(t);
          if (killed) {
            child.kill('SIGKILL');
            await exited;
          }
        }
        await exited;
        cleanupConfig();
      })();
    }
    return stopping;
  };

  const handle: NatsServerHandle = {
    clientUrl: `nats://${host}:${ports.port}`,
    port: ports.port,
    host,
    serverName: opts.serverName,
    pid: child.pid!,
    configFile,
    logTail,
    exited,
    stop,
  };
  if (ports.leafPort !== undefined) {
    handle.leafPort = ports.leafPort;
    handle.leafUrl = `nats-leaf://${ports.leafHost ?? host}:${ports.leafPort}`;
  }
  if (ports.monitorPort !== undefined) handle.monitorUrl = `http://${host}:${ports.monitorPort}`;
  if (domain) handle.jetstreamDomain = domain;
  return handle;
}
