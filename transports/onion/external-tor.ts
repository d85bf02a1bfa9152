// An operator's tor (`--tor-control HOST:PORT`, cookie file or password): we only hold a control connection.
// Our onion service lives as long as that connection (no Detach flag), so a node that dies takes its service down
// with it; when the connection drops we reconnect with backoff and the ready hooks re-add the service.
import { ErrorCodes, InfonetError } from '../../protocol/errors.js';
import { TorControl, type TorControlAuth } from './tor-control.js';
import { ReadyHooks, silentLog, waitBootstrapped, type TorEndpoint, type TorLog, type TorReadyHook, type TorState, type TorStatus } from './tor-endpoint.js';

export interface ExternalTorOptions {
  host: string;
  port: number;
  auth?: TorControlAuth;
  /** SOCKS port to use instead of asking tor (MESH_ARTI_SOCKS_PORT when set explicitly). */
  socksPort?: number;
  log?: TorLog;
  bootstrapTimeoutMs?: number;
}

/** `HOST:PORT` of --tor-control. */
export function parseTorControlAddress(s: string): { host: string; port: number } {
  const m = /^([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(s.trim());
  const port = m ? Number(m[2]) : 0;
  if (!m || port < 1 || port > 65535) throw new InfonetError(ErrorCodes.BAD_INPUT, `--tor-control wants HOST:PORT, got ${JSON.stringify(s)}`);
  return { host: m[1].replace(/^\[|\]$/g, ''), port };
}

export class ExternalTor implements TorEndpoint {
  private control: TorControl | null = null;
  private socksAddr: { host: string; port: number } | null = null;
  private state: TorState = 'starting';
  private progress = 0;
  private reconnects = 0;
  private stopping = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly hooks: ReadyHooks;
  private readonly log: TorLog;

  private constructor(private readonly opts: ExternalTorOptions) {
    this.log = opts.log ?? silentLog;
    this.hooks = new ReadyHooks(this.log);
  }

  /**
   * Connects once; when tor is not there yet (a compose tor container starting after the node) the node still
   * starts: onion peers fail as retryable UNAVAILABLE until a background reconnect succeeds.
   */
  static async start(opts: ExternalTorOptions): Promise<ExternalTor> {
    const t = new ExternalTor(opts);
    try {
      await t.connect();
    } catch (e) {
      t.log.error({ control: `${opts.host}:${opts.port}`, err: (e as Error)?.message }, 'tor control port not reachable yet; retrying');
      t.state = 'restarting';
      t.scheduleReconnect();
    }
    return t;
  }

  private async connect(): Promise<void> {
    const c = await TorControl.open(this.opts.host, this.opts.port, this.opts.auth ?? {});
    this.control = c;
    this.socksAddr = this.opts.socksPort ? { host: this.opts.host, port: this.opts.socksPort } : await c.socksListener();
    this.state = 'bootstrapping';
    this.progress = await waitBootstrapped(c, this.opts.bootstrapTimeoutMs ?? 120_000, this.log);
    this.state = 'ready';
    void c.closed.then(() => this.onClosed(c));
    this.log.info({ control: `${this.opts.host}:${this.opts.port}`, socks: this.socksAddr }, 'using an external tor');
    await this.hooks.fire(c);
  }

  private onClosed(c: TorControl): void {
    if (this.control !== c || this.stopping) return;
    this.control = null;
    this.hooks.clear();
    this.state = 'restarting';
    this.log.error({ control: `${this.opts.host}:${this.opts.port}` }, 'tor control connection lost; reconnecting');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const delay = Math.min(30_000, 1000 * 2 ** Math.min(this.reconnects, 5));
    this.reconnects++;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.stopping) return;
      this.connect().catch(() => this.scheduleReconnect());
    }, delay);
    this.timer.unref();
  }

  socks(): { host: string; port: number } | null {
    return this.socksAddr;
  }

  onReady(hook: TorReadyHook): Promise<void> {
    return this.hooks.add(hook);
  }

  status(): TorStatus {
    return {
      kind: 'external', state: this.state, bootstrap_progress: this.progress,
      socks: this.socksAddr ? `${this.socksAddr.host}:${this.socksAddr.port}` : '', pid: null, restarts: this.reconnects,
    };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.state = 'stopped';
    if (this.timer) clearTimeout(this.timer);
    this.control?.close();
    this.control = null;
  }
}
