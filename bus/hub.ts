// A federation hub: a nats-server with a client listener, a leaf-node listener and JetStream under a named domain
// (default "hub"), state in <data>/nats. Authenticated (docs/bus-auth.md): an administrator nkey
// (<data>/nats/auth/admin.nk, full access: the harness and operators use it) and one user/password per leaf link,
// issued with issueLeafCredential (`infonet hub issue-leaf`) and limited to that node's own subjects plus peer routes,
// so a node can never command another node's mailboxes through the hub. The users live in <data>/nats/auth.conf,
// included by the server config; issuing a credential while the hub runs rewrites it and reloads the server (SIGHUP).
// The CLI command is cli/hub.ts.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ErrorCodes, InfonetError } from '../protocol/errors.js';
import { newNkeyUser, newPassword, readCredsFile, rememberLocalCredentials, writeSecretFile, type BusCredentials } from './credentials.js';
import { startNatsServer, type NatsServerHandle } from './nats-server.js';
import { ADMIN_PERMISSIONS, leafLinkPermissions, renderAuthorization, type AuthUser } from './permissions.js';
import { encodeNodeToken } from './subjects.js';

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
  /** The administrator credentials file (nkey seed). */
  adminCreds: string;
  stop(): Promise<void>;
}

interface LeafEntry {
  name: string;
  node_id: string;
  user: string;
  password: string;
}

const NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;

const paths = (dataDir: string) => {
  const natsDir = join(resolve(dataDir), 'nats');
  return {
    natsDir,
    authDir: join(natsDir, 'auth'),
    admin: join(natsDir, 'auth', 'admin.nk'),
    leaves: join(natsDir, 'auth', 'leaves.json'),
    authConf: join(natsDir, 'auth.conf'),
    pid: join(natsDir, 'hub.pid'),
  };
};

function loadAdmin(file: string): BusCredentials & { kind: 'nkey' } {
  if (existsSync(file)) {
    const c = readCredsFile(file);
    if (c.kind !== 'nkey') throw new InfonetError(ErrorCodes.STORE_CORRUPT, `${file} must hold an nkey seed`);
    return c;
  }
  const c = newNkeyUser();
  writeSecretFile(file, c.seed + '\n');
  return c;
}

function loadLeaves(file: string): LeafEntry[] {
  if (!existsSync(file)) return [];
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as { leaves?: LeafEntry[] };
    return Array.isArray(v.leaves) ? v.leaves : [];
  } catch (e) {
    throw new InfonetError(ErrorCodes.STORE_CORRUPT, `${file} is unreadable: ${(e as Error).message}`);
  }
}

/** Renders <data>/nats/auth.conf from the admin key and the issued leaf users. */
function writeAuthConf(dataDir: string): void {
  const p = paths(dataDir);
  const admin = loadAdmin(p.admin);
  const users: AuthUser[] = [
    { nkey: admin.publicKey, permissions: ADMIN_PERMISSIONS },
    ...loadLeaves(p.leaves).map((l) => ({ user: l.user, password: l.password, permissions: leafLinkPermissions(encodeNodeToken(l.node_id)) })),
  ];
  writeSecretFile(p.authConf, renderAuthorization(users));
}

function runningHubPid(pidFile: string): number | undefined {
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('nats-server') ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Issues (or re-issues, with a new password) the leaf credential for node `nodeId` under `name`, writes it to `out`
 * (default <data>/nats/auth/leaf-<name>.creds, mode 600) and reloads a running hub. Returns the file path.
 */
export function issueLeafCredential(dataDir: string, o: { name: string; nodeId: string; out?: string }): string {
  if (!NAME_RE.test(o.name)) throw new InfonetError(ErrorCodes.BAD_INPUT, `leaf name must match ${NAME_RE}`);
  encodeNodeToken(o.nodeId); // BAD_INPUT for an empty/ill-formed id
  const p = paths(dataDir);
  mkdirSync(p.natsDir, { recursive: true });
  const entry: LeafEntry = { name: o.name, node_id: o.nodeId, user: `leaf-${o.name}`, password: newPassword() };
  const leaves = [...loadLeaves(p.leaves).filter((l) => l.name !== o.name), entry];
  writeSecretFile(p.leaves, JSON.stringify({ leaves }, null, 2) + '\n');
  writeAuthConf(dataDir);
  const out = resolve(o.out ?? join(p.authDir, `leaf-${o.name}.creds`));
  writeSecretFile(out, JSON.stringify({ user: entry.user, password: entry.password, node_id: o.nodeId }, null, 2) + '\n');
  const pid = runningHubPid(p.pid);
  if (pid) process.kill(pid, 'SIGHUP'); // nats-server re-reads its config (and the included auth.conf)
  return out;
}

/** Starts a hub server (no signal handling; see cli/hub.ts for the command). */
export async function startHub(opts: HubOptions): Promise<HubHandle> {
  const domain = opts.domain ?? 'hub';
  if (!/^[A-Za-z0-9_-]+$/.test(domain)) throw new InfonetError(ErrorCodes.BAD_INPUT, `invalid JetStream domain: ${domain}`);
  const p = paths(opts.dataDir);
  mkdirSync(p.natsDir, { recursive: true });
  writeAuthConf(opts.dataDir);
  const server = await startNatsServer({
    serverName: opts.serverName ?? 'infonet-hub',
    host: opts.host ?? '127.0.0.1',
    port: opts.port ?? 0,
    jetstream: { storeDir: join(p.natsDir, 'jetstream'), domain },
    leafListen: { port: opts.leafPort ?? 0 },
    monitor: opts.monitor ?? true,
    authorization: { includeFile: p.authConf },
    configDir: p.natsDir,
    pidFile: p.pid,
    logFile: join(p.natsDir, 'hub.log'),
  });
  rememberLocalCredentials(server.clientUrl, p.admin);
  return { server, clientUrl: server.clientUrl, leafUrl: server.leafUrl!, domain, adminCreds: p.admin, stop: () => server.stop() };
}
