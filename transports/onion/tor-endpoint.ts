// What the node needs from "a tor": its SOCKS listener (outbound, onion-transport.ts), an authenticated control
// connection (inbound, onion-service.ts), and a way to redo set-up after tor comes back (a restarted managed tor,
// a reconnected operator's tor). Two implementations: managed-tor.ts (the embedded default) and external-tor.ts
// (`--tor-control HOST:PORT`).
import type { TorControl } from './tor-control.js';

export interface TorLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const silentLog: TorLog = { info: () => undefined, warn: () => undefined, error: () => undefined };

export type TorState = 'starting' | 'bootstrapping' | 'ready' | 'restarting' | 'stopped';

export interface TorStatus {
  kind: 'managed' | 'external';
  state: TorState;
  bootstrap_progress: number;
  socks: string;
  pid: number | null;
  restarts: number;
  onion?: string;
}

/** Runs after every (re)connection once tor has bootstrapped (or the bootstrap wait gave up). */
export type TorReadyHook = (control: TorControl) => Promise<void>;

export interface TorEndpoint {
  /** Current SOCKS listener, null while tor is down. */
  socks(): { host: string; port: number } | null;
  onReady(hook: TorReadyHook): Promise<void>;
  status(): TorStatus;
  stop(): Promise<void>;
}

/** Polls bootstrap progress, logging each change, until 100 % or `timeoutMs`; returns the last progress seen. */
export async function waitBootstrapped(control: TorControl, timeoutMs: number, log: TorLog, onProgress?: (p: number) => void): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  for (;;) {
    const b = await control.bootstrap();
    if (b.progress !== last) {
      last = b.progress;
      onProgress?.(b.progress);
      log.info({ progress: b.progress, summary: b.summary }, 'tor bootstrap');
    }
    if (b.progress >= 100) return 100;
    if (Date.now() >= deadline) {
      log.warn({ progress: b.progress, waited_ms: timeoutMs }, 'tor has not finished bootstrapping; continuing (onion peers are retried)');
      return b.progress;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Hook bookkeeping shared by both endpoints. */
export class ReadyHooks {
  private readonly hooks: TorReadyHook[] = [];
  private current: TorControl | null = null;

  constructor(private readonly log: TorLog) {}

  async add(hook: TorReadyHook): Promise<void> {
    this.hooks.push(hook);
    if (this.current) await hook(this.current);
  }

  async fire(control: TorControl): Promise<void> {
    this.current = control;
    for (const h of this.hooks) {
      await h(control).catch((e: unknown) => this.log.error({ err: (e as Error)?.message }, 'tor ready hook failed'));
    }
  }

  clear(): void {
    this.current = null;
  }
}
