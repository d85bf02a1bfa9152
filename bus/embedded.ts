// A node's embedded nats-server: JetStream in <data>/nats, optionally a leaf of hubs, and always authenticated
// (docs/bus-auth.md): the node's three credentials (service, operator, peer) are generated into <data>/nats/auth on
// first start and their permissions rendered into the server config. A server left behind by a node killed with
// SIGKILL is reaped through <data>/nats/nats-server.pid at the next start (bus/nats-server.ts reapStaleServer).
import { join } from 'node:path';
import { ensureNodeCredentials, readCredsFile, rememberLocalCredentials, type NodeCredentials } from './credentials.js';
import { startNatsServer, type NatsServerHandle } from './nats-server.js';
import { NODE_ROLES, nodeRolePermissions } from './permissions.js';
import { encodeNodeToken } from './subjects.js';
import { ErrorCodes, InfonetError } from '../protocol/errors.js';

export interface EmbeddedServerOptions {
  natsDir: string;
  nodeId: string;
  /** Client port; 0 = free port. */
  port?: number;
  leaf?: string[];
  /** Leaf credentials file (`infonet hub issue-leaf`), needed when the hub requires authentication. */
  leafCreds?: string;
}

export interface EmbeddedServer {
  server: NatsServerHandle;
  creds: NodeCredentials;
}

export async function startEmbeddedServer(o: EmbeddedServerOptions): Promise<EmbeddedServer> {
  const token = encodeNodeToken(o.nodeId);
  const creds = ensureNodeCredentials(o.natsDir);
  let leafCredentials: { user: string; password: string } | undefined;
  if (o.leafCreds) {
    const c = readCredsFile(o.leafCreds);
    if (c.kind !== 'user') throw new InfonetError(ErrorCodes.BAD_INPUT, `leaf credentials ${o.leafCreds} must be {"user","password"} (from infonet hub issue-leaf)`);
    leafCredentials = c;
  }
  const server = await startNatsServer({
    // Stable server name derived from the node id: JetStream keys its state on it (toolchain notes).
    serverName: `infonet-${token.replace(/[^A-Za-z0-9_-]/g, '_')}`.slice(0, 64),
    port: o.port ?? 0,
    jetstream: { storeDir: join(o.natsDir, 'jetstream') },
    ...(o.leaf?.length ? { leafRemotes: o.leaf } : {}),
    ...(leafCredentials ? { leafCredentials } : {}),
    authorization: NODE_ROLES.map((role) => ({ nkey: creds.roles[role].publicKey, permissions: nodeRolePermissions(token, role) })),
    configDir: o.natsDir,
    pidFile: join(o.natsDir, 'nats-server.pid'),
    logFile: join(o.natsDir, 'server.log'),
    monitor: false,
  });
  rememberLocalCredentials(server.clientUrl, creds.files.operator);
  return { server, creds };
}
