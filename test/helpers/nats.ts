// Test launcher for real nats-server processes (in the spirit of nats.js's own NatsServer test helper).
// Every server runs on free loopback ports (never the system server on 4222) with its own temp directory.
//
//   const srv = await startServer({ jetstream: true });            // single server
//   const fed = await startHubWithLeaves(2);                       // hub + 2 leaves, leaf links already up
//   const sec = await startServer({ auth: true });                 // authenticated: sec.creds is its admin nkey;
//   const nc = await connectBus(sec.clientUrl);                    //   connectBus in this process finds it
//   const fed2 = await startHubWithLeaves(2, { auth: true });      // hub needs credentials; leaf links present theirs
//   await waitFor(() => something(), 5000);                        // poll until true
//   afterAll(() => stopAll());                                     // stops every server this file started
//
// Synchronisation is always by polling a condition (waitFor), never by fixed sleeps.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { forgetLocalCredentials, newNkeyUser, newPassword, rememberLocalCredentials, writeSecretFile, type BusCredentials } from '../../bus/credentials.js';
import { startNatsServer, type NatsServerHandle, type NatsServerOptions } from '../../bus/nats-server.js';
import { ADMIN_PERMISSIONS, type AuthUser, type SubjectPermissions } from '../../bus/permissions.js';
import { waitUntil } from '../../harness/wait.js';

export type TestServer = NatsServerHandle & {
  dir: string;
  /** With `auth`: the administrator credential (all subjects) and its file. */
  creds?: BusCredentials;
  credsFile?: string;
};

const started = new Set<TestServer>();
let counter = 0;

function uniqueName(prefix: string): string {
  return `${prefix}${process.pid}_${++counter}`;
}

export interface StartServerOptions extends Partial<Omit<NatsServerOptions, 'jetstream'>> {
  /** true: JetStream in the server's temp dir; or explicit options. */
  jetstream?: boolean | { storeDir?: string; domain?: string };
  /** Reuse a directory (restart tests). Not removed on stop when given. */
  dir?: string;
  /**
   * Require authentication (docs/bus-auth.md): an administrator nkey with every subject (returned as `creds`, and
   * found by connectBus in this process), plus any `users` given (e.g. leaf users with limited permissions).
   */
  auth?: true | { users?: AuthUser[] };
}

/** Starts one nats-server on free ports; it is tracked and stopped by stopAll(). */
export async function startServer(opts: StartServerOptions = {}): Promise<TestServer> {
  const ownDir = !opts.dir;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'infonet-test-nats-'));
  const { jetstream, dir: _d, auth, ...rest } = opts;
  const cfg: NatsServerOptions = {
    serverName: opts.serverName ?? uniqueName('t'),
    configDir: join(dir, 'conf'),
    ...rest,
  };
  if (jetstream) {
    const j = jetstream === true ? {} : jetstream;
    cfg.jetstream = { storeDir: j.storeDir ?? join(dir, 'js'), ...(j.domain ? { domain: j.domain } : {}) };
  }
  let admin: (BusCredentials & { kind: 'nkey' }) | undefined;
  if (auth) {
    const a = newNkeyUser();
    admin = a;
    cfg.authorization = [{ nkey: a.publicKey, permissions: ADMIN_PERMISSIONS }, ...(auth === true ? [] : auth.users ?? [])];
  }
  const h = await startNatsServer(cfg);
  const srv = h as TestServer;
  srv.dir = dir;
  if (admin) {
    srv.creds = admin;
    srv.credsFile = join(dir, 'admin.nk');
    writeSecretFile(srv.credsFile, admin.seed + '\n');
    rememberLocalCredentials(srv.clientUrl, srv.credsFile);
  }
  const innerStop = h.stop;
  srv.stop = async (killAfterMs?: number) => {
    await innerStop(killAfterMs);
    started.delete(srv);
    if (admin) forgetLocalCredentials(srv.clientUrl);
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  };
  started.add(srv);
  return srv;
}

/** Stops every server started through this helper (use in afterAll). */
export async function stopAll(): Promise<void> {
  await Promise.all([...started].map((s) => s.stop()));
}

export interface Federation {
  hub: TestServer;
  leaves: TestServer[];
  stopAll(): Promise<void>;
}

export interface HubWithLeavesOptions {
  /** Hub JetStream domain. Default 'hub'. */
  domain?: string;
  /** Give each leaf its own JetStream (domain = its server name). Default false. */
  leafJetStream?: boolean;
  /**
   * Authenticated federation: the hub and every leaf require credentials (`creds` on each server: its admin); each
   * leaf link presents its own user/password, with `leafPermissions(i)` on the hub (default: all subjects).
   */
  auth?: boolean;
  leafPermissions?: (i: number) => SubjectPermissions;
}

/** A hub (leaf listener + JetStream domain) and n leaf servers; resolves once all n leaf links are up. */
export async function startHubWithLeaves(n: number, opts: HubWithLeavesOptions = {}): Promise<Federation> {
  const leafUsers = Array.from({ length: n }, (_, i) => ({ user: `leaf${i}`, password: newPassword() }));
  const hub = await startServer({
    serverName: uniqueName('hub'),
    jetstream: { domain: opts.domain ?? 'hub' },
    leafListen: true,
    ...(opts.auth ? { auth: { users: leafUsers.map((u, i) => ({ ...u, permissions: opts.leafPermissions?.(i) ?? ADMIN_PERMISSIONS })) } } : {}),
  });
  const leaves = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      startServer({
        serverName: uniqueName(`leaf${String.fromCharCode(65 + i)}`),
        leafRemotes: [hub.leafUrl!],
        jetstream: opts.leafJetStream ? true : undefined,
        ...(opts.auth ? { auth: true as const, leafCredentials: leafUsers[i] } : {}),
      }),
    ),
  );
  await waitForLeafConnected(hub, n);
  return {
    hub,
    leaves,
    async stopAll() {
      await Promise.all(leaves.map((l) => l.stop()));
      await hub.stop();
    },
  };
}

/**
 * Polls `cond` (sync or async) every `intervalMs` until it returns a truthy value, which is returned.
 * Exceptions thrown by `cond` count as "not yet". Rejects with the last error after `timeoutMs`.
 * The harness's waitUntil, with the launcher's argument order.
 */
export function waitFor<T>(
  cond: () => T | Promise<T>,
  timeoutMs = 5000,
  { intervalMs = 25, what = 'condition' }: { intervalMs?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  return waitUntil(cond, timeoutMs, what, intervalMs);
}

/** GET a monitoring endpoint (/varz, /leafz, /jsz …) as JSON. */
export async function monitor<T = Record<string, unknown>>(server: NatsServerHandle, path: string): Promise<T> {
  if (!server.monitorUrl) throw new Error(`${server.serverName} has no monitoring port`);
  const res = await fetch(`${server.monitorUrl}${path}`);
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

/** Waits until `hub` reports at least `count` leaf connections on /leafz. */
export async function waitForLeafConnected(hub: NatsServerHandle, count = 1, timeoutMs = 10_000): Promise<void> {
  await waitFor(
    async () => ((await monitor<{ leafnodes?: number }>(hub, '/leafz')).leafnodes ?? 0) >= count,
    timeoutMs,
    { what: `${count} leaf connection(s) on ${hub.serverName}` },
  );
}

/**
 * Retries a request until something answers (interest takes a moment to propagate over leaf links after a
 * subscription is created; "no responders" comes back immediately, so retrying is cheap).
 */
export async function waitForResponder(nc: NatsConnection, subject: string, data: Uint8Array = new Uint8Array(), timeoutMs = 10_000): Promise<void> {
  await waitFor(
    async () => {
      await nc.request(subject, data, { timeout: 500 });
      return true;
    },
    timeoutMs,
    { what: `a responder on ${subject}` },
  );
}
