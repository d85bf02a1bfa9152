// The embedded tor (like the embedded nats-server): `infonet node run --tor` starts its own `tor` with
// DataDirectory, SocksPort and ControlPort under <data>/tor, both ports chosen by tor itself (`auto`, read back
// through ControlPortWriteToFile and GETINFO, so there is no free-port race), cookie auth, and waits for bootstrap
// with progress in the log. If tor dies it is restarted with backoff and the ready hooks run again (the onion
// service is re-added). On stop it is terminated.
//
// A node killed with SIGKILL leaves no tor behind for long: `__OwningControllerProcess` and TAKEOWNERSHIP make
// tor exit when the node's process or control connection goes away, and a tor still alive at the next start is
// reaped through its pid file (only if that pid runs tor with our torrc).
import { chmodSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, InfonetError } from '../../protocol/errors.js';
import { TorControl } from './tor-control.js';
import { ReadyHooks, silentLog, waitBootstrapped, type TorEndpoint, type TorLog, type TorReadyHook, type TorState, type TorStatus } from './tor-endpoint.js';
import { reapStaleTor, spawnTor, stopTor, writeTorrc, type TorChild } from './tor-process.js';

export interface ManagedTorOptions {
  /** <data>/tor: tor's DataDirectory (mode 700), torrc, pid file, logs. */
  dir: string;
  /** Extra torrc lines, e.g. a private test network's TestingTorNetwork + DirAuthority lines. */
  extraTorrc?: readonly string[];
  log?: TorLog;
  /** How long start() waits for bootstrap before it continues anyway (default 120 s). */
  bootstrapTimeoutMs?: number;
  /** Restart tor when it dies (default true). */
  restart?: boolean;
}

const MAX_RESTART_DELAY_MS = 30_000;

export class ManagedTor implements TorEndpoint {
  private child: TorChild | null = null;
  private control: TorControl | null = null;
  private socksAddr: { host: string; port: number } | null = null;
  private state: TorState = 'starting';
  private progress = 0;
  private restarts = 0;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | null = null;
  private readonly hooks: ReadyHooks;
  private readonly log: TorLog;
  readonly torrc: string;
  private readonly pidFile: string;
  private readonly portFile: string;

  private constructor(private readonly opts: ManagedTorOptions) {
    this.log = opts.log ?? silentLog;
    this.hooks = new ReadyHooks(this.log);
    this.torrc = join(opts.dir, 'torrc');
    this.pidFile = join(opts.dir, 'tor.pid');
    this.portFile = join(opts.dir, 'control_port');
  }

  static async start(opts: ManagedTorOptions): Promise<ManagedTor> {
    const t = new ManagedTor(opts);
    mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
    chmodSync(opts.dir, 0o700);
    if (await reapStaleTor(t.pidFile, t.torrc)) t.log.warn({ pid_file: t.pidFile }, 'reaped a tor left behind by a previous run');
    t.writeConfig();
    try {
      await t.launch();
    } catch (e) {
      await t.stop();
      throw e;
    }
    return t;
  }

  private writeConfig(): void {
    const d = this.opts.dir;
    writeTorrc(this.torrc, [
      `DataDirectory ${d}`,
      'RunAsDaemon 0',
      `PidFile ${this.pidFile}`,
      `Log notice file ${join(d, 'notice.log')}`,
      'SocksPort 127.0.0.1:auto',
      'ControlPort 127.0.0.1:auto',
      `ControlPortWriteToFile ${this.portFile}`,
      'CookieAuthentication 1',
      `CookieAuthFile ${join(d, 'control_auth_cookie')}`,
      'ClientOnly 1',
      `__OwningControllerProcess ${process.pid}`,
      ...(this.opts.extraTorrc ?? []),
    ]);
  }

  private async launch(): Promise<void> {
    rmSync(this.portFile, { force: true });
    this.state = 'starting';
    this.progress = 0;
    const child = spawnTor(this.torrc);
    this.child = child;
    void child.exited.then((x) => this.onExit(child, x));
    this.log.info({ pid: child.pid, dir: this.opts.dir }, 'managed tor started');
    const port = await this.waitControlPort(child);
    const control = await TorControl.open('127.0.0.1', port, { cookieFile: join(this.opts.dir, 'control_auth_cookie') });
    // From here on tor exits when this connection closes (node killed): no orphaned tor.
    await control.ok('TAKEOWNERSHIP');
    this.control = control;
    this.socksAddr = await control.socksListener();
    this.state = 'bootstrapping';
    await waitBootstrapped(control, this.opts.bootstrapTimeoutMs ?? 120_000, this.log, (p) => {
      this.progress = p;
    });
    if (this.child !== child) return;
    this.state = 'ready';
    await this.hooks.fire(control);
  }

  private async waitControlPort(child: TorChild): Promise<number> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const m = /PORT=[0-9.]+:(\d+)/.exec(readFileSync(this.portFile, 'utf8'));
        if (m) return Number(m[1]);
      } catch {
        // not written yet
      }
      if (child.child.exitCode !== null || child.child.signalCode !== null || Date.now() > deadline) {
        await stopTor(child, 1000);
        throw new InfonetError(ErrorCodes.UNAVAILABLE, `managed tor did not open its control port: ${child.outputTail().slice(-1500)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private onExit(child: TorChild, x: { code: number | null; signal: NodeJS.Signals | null }): void {
    if (this.child !== child) return;
    this.control?.close();
    this.control = null;
    this.socksAddr = null;
    this.hooks.clear();
    if (this.stopping) return;
    this.log.error({ ...x, tail: child.outputTail().slice(-1000) }, 'managed tor exited');
    if (this.opts.restart === false) {
      this.state = 'stopped';
      return;
    }
    this.state = 'restarting';
    const delay = Math.min(MAX_RESTART_DELAY_MS, 1000 * 2 ** Math.min(this.restarts, 5));
    this.restarts++;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.stopping) return;
      this.launch().catch((e: unknown) => {
        this.log.error({ err: (e as Error)?.message }, 'managed tor restart failed');
        // A tor that runs but would not talk to us is killed; its exit handler schedules the next attempt.
        const c = this.child;
        if (c && c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
      });
    }, delay);
    this.restartTimer.unref();
  }

  socks(): { host: string; port: number } | null {
    return this.socksAddr;
  }

  onReady(hook: TorReadyHook): Promise<void> {
    return this.hooks.add(hook);
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  status(): TorStatus {
    return {
      kind: 'managed', state: this.state, bootstrap_progress: this.progress,
      socks: this.socksAddr ? `${this.socksAddr.host}:${this.socksAddr.port}` : '', pid: this.pid, restarts: this.restarts,
    };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.state = 'stopped';
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    this.control?.close();
    this.control = null;
    this.socksAddr = null;
    if (child) await stopTor(child);
    rmSync(this.pidFile, { force: true });
  }
}
