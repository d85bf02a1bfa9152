// Running one `tor` process: finding the binary, writing its torrc, spawning it in the foreground (so the pid we
// hold is tor's), reaping one a killed owner left behind (pid file, like bus/nats-server.ts), and stopping it.
// Shared by the node's managed tor (managed-tor.ts) and the private test network (harness/tor-network.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { isExecutableFile } from '../../bus/nats-server.js';
import { ErrorCodes, InfonetError } from '../../protocol/errors.js';

export const TOR_INSTALL_HINT =
  'tor was not found on PATH nor at /usr/sbin/tor or /usr/bin/tor. Install it with `apt-get install tor` (Debian/Ubuntu) ' +
  '(npm start / npm test do this when run as root), or point the node at an existing tor with --tor-control HOST:PORT.';

/** `$TOR_BIN`, then PATH, then /usr/sbin and /usr/bin. Throws UNAVAILABLE with install instructions. */
export function findBinary(name: 'tor' | 'tor-gencert', env: NodeJS.ProcessEnv = process.env): string {
  const override = name === 'tor' ? env.TOR_BIN : undefined;
  if (override && isExecutableFile(override)) return override;
  const dirs = [...(env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/sbin', '/usr/bin', '/usr/local/bin'];
  for (const d of dirs) if (isExecutableFile(join(d, name))) return join(d, name);
  throw new InfonetError(ErrorCodes.UNAVAILABLE, TOR_INSTALL_HINT, { missing: name });
}

export const hasTor = (): boolean => {
  try {
    findBinary('tor');
    findBinary('tor-gencert');
    return true;
  } catch {
    return false;
  }
};

export function writeTorrc(file: string, lines: readonly string[]): void {
  for (const l of lines) {
    if (/[\r\n]/.test(l)) throw new InfonetError(ErrorCodes.BAD_INPUT, 'torrc line contains a line break');
  }
  writeFileSync(file, lines.join('\n') + '\n', { mode: 0o600 });
}

export interface TorChild {
  child: ChildProcess;
  pid: number;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Last lines tor printed (its own log goes to the torrc's Log file). */
  outputTail(): string;
}

/**
 * `keepOutput`: pipe stdout/stderr and keep a short tail (tor prints early start-up problems such as a bad torrc
 * there). Without it the output is discarded at the OS level, for tors that outlive this process: a closed pipe
 * would kill tor with SIGPIPE on its next log line.
 */
export function spawnTor(torrc: string, opts: { bin?: string; keepOutput?: boolean } = {}): TorChild {
  const bin = opts.bin ?? findBinary('tor');
  const keepOutput = opts.keepOutput ?? true;
  const child = spawn(bin, ['-f', torrc, '--ignore-missing-torrc'], { stdio: keepOutput ? ['ignore', 'pipe', 'pipe'] : 'ignore' });
  let tail = '';
  const keep = (c: Buffer): void => {
    tail = (tail + c.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (e) => {
      tail += `\nspawn failed: ${e.message}`;
      resolve({ code: -1, signal: null });
    });
  });
  return { child, pid: child.pid ?? -1, exited, outputTail: () => tail };
}

function isLiveTor(pid: number, marker: string): boolean {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmd.includes('tor') && cmd.includes(marker) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

/**
 * Kills the tor whose pid a previous (SIGKILLed) owner left in `pidFile` — only when that pid still runs tor with
 * `marker` (our torrc path) on its command line, so a recycled pid is never hit — and waits until it is gone.
 */
export async function reapStaleTor(pidFile: string, marker: string): Promise<boolean> {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
  } catch {
    return false;
  }
  rmSync(pidFile, { force: true });
  if (!Number.isInteger(pid) || pid <= 1 || !isLiveTor(pid, marker)) return false;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return false;
  }
  for (let i = 0; i < 250 && isLiveTor(pid, marker); i++) await new Promise((r) => setTimeout(r, 20));
  return true;
}

/** SIGTERM (tor exits after ShutdownWaitLength), SIGKILL after `graceMs`. */
export async function stopTor(t: TorChild, graceMs = 5000): Promise<void> {
  if (t.child.exitCode !== null || t.child.signalCode !== null) return;
  t.child.kill('SIGTERM');
  const timer = setTimeout(() => t.child.kill('SIGKILL'), graceMs);
  await t.exited;
  clearTimeout(timer);
}
