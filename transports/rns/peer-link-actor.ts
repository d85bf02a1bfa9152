// One actor per remote RNS destination we talk to (the RNS "peer link"): it owns path discovery timing (§8 client
// behaviour) and reports the link state for status.
//   unknown ──NEED_PATH──▶ requesting ──PATH_LEARNT──▶ ready ──SEND_FAILED (≥ retry interval)──▶ requesting
//                          │ after pathTimeout                ──PATH_LOST──▶ unknown
//                          ▼
//                      unreachable ──NEED_PATH (≥ retry interval since the last request)──▶ requesting
// Every request carries a fresh tag (receivers ignore a repeated tag) and requests are at least `retryIntervalMs`
// apart (the reference rate-limits path requests on new interfaces). Waiters for a path are rejected as soon as a
// request times out, so "no path" surfaces as a retryable UNAVAILABLE instead of hanging.
import { assign, createActor, setup, type Actor } from 'xstate';
import { unrefClock } from '../../protocol/unref-clock.js';

export interface PathDiscoveryPolicy {
  /** How long to wait for a path response (§8: ~15 s). */
  pathTimeoutMs: number;
  /** Minimum spacing of path requests for one destination (§8: ~20 s). */
  retryIntervalMs: number;
}

export const DEFAULT_PATH_DISCOVERY: PathDiscoveryPolicy = { pathTimeoutMs: 15_000, retryIntervalMs: 20_000 };

type LinkEvent = { type: 'NEED_PATH' } | { type: 'PATH_LEARNT' } | { type: 'PATH_LOST' } | { type: 'SEND_OK' } | { type: 'SEND_FAILED' } | { type: 'STOP' };

interface LinkIo {
  now(): number;
  requestPath(): void;
  pathResolved(ok: boolean): void;
}

export function createRnsPeerLinkMachine(policy: PathDiscoveryPolicy, io: LinkIo) {
  return setup({
    types: {} as { context: { lastRequestMs: number; requests: number; failures: number }; events: LinkEvent },
    guards: { mayRequest: ({ context }) => io.now() - context.lastRequestMs >= policy.retryIntervalMs },
    actions: {
      request: assign(({ context }) => {
        io.requestPath();
        return { lastRequestMs: io.now(), requests: context.requests + 1 };
      }),
      resolved: () => io.pathResolved(true),
      unresolved: () => io.pathResolved(false),
    },
  }).createMachine({
    id: 'rnsPeerLink',
    context: { lastRequestMs: -Infinity, requests: 0, failures: 0 },
    initial: 'unknown',
    on: { STOP: '.stopped', PATH_LEARNT: { target: '.ready' } },
    states: {
      unknown: { on: { NEED_PATH: 'requesting' } },
      requesting: {
        entry: 'request',
        after: { [policy.pathTimeoutMs]: { target: 'unreachable', actions: 'unresolved' } },
      },
      ready: {
        entry: ['resolved', assign({ failures: 0 })],
        on: {
          PATH_LOST: 'unknown',
          SEND_OK: { actions: assign({ failures: 0 }) },
          SEND_FAILED: [{ guard: 'mayRequest', target: 'requesting', actions: assign({ failures: ({ context }) => context.failures + 1 }) }, { actions: assign({ failures: ({ context }) => context.failures + 1 }) }],
        },
      },
      unreachable: {
        on: { NEED_PATH: [{ guard: 'mayRequest', target: 'requesting' }, { actions: 'unresolved' }] },
      },
      stopped: { type: 'final' },
    },
  });
}

export class RnsPeerLink {
  private readonly actor: Actor<ReturnType<typeof createRnsPeerLinkMachine>>;
  private waiters: Array<(ok: boolean) => void> = [];

  constructor(readonly destinationHex: string, policy: PathDiscoveryPolicy, requestPath: () => void, now: () => number = Date.now) {
    this.actor = createActor(
      createRnsPeerLinkMachine(policy, {
        now,
        requestPath,
        pathResolved: (ok) => {
          const w = this.waiters;
          this.waiters = [];
          for (const f of w) f(ok);
        },
      }),
      { clock: unrefClock as never },
    );
    this.actor.start();
  }

  get state(): string {
    return String(this.actor.getSnapshot().value);
  }

  get requests(): number {
    return this.actor.getSnapshot().context.requests;
  }

  /** Resolves true once a path is known, false when discovery gave up (or may not retry yet). */
  waitForPath(): Promise<boolean> {
    if (this.state === 'ready') return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      this.waiters.push(resolve);
      this.actor.send({ type: 'NEED_PATH' });
    });
  }

  pathLearnt(): void {
    this.actor.send({ type: 'PATH_LEARNT' });
  }

  pathLost(): void {
    this.actor.send({ type: 'PATH_LOST' });
  }

  sendSucceeded(): void {
    this.actor.send({ type: 'SEND_OK' });
  }

  sendFailed(): void {
    this.actor.send({ type: 'SEND_FAILED' });
  }

  stop(): void {
    this.actor.send({ type: 'STOP' });
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f(false);
  }
}
