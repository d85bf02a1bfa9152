// Real nodes peered over loopback HTTP or the bus for the outbound replication tests. Each node gets its own
// data directory and identity (so peer URLs are known before start); its own inbound side (node/inbound.ts: the
// peer HTTP listener on the node's fixed port and the bus peer endpoints) runs with generous rate limits, and
// its own replication.
import { generateIdentity, type Identity } from '../../protocol/identity.js';
import { freePort } from '../../bus/nats-server.js';
import { InfonetNode } from '../../node/infonet-node.js';
import { resolveConfig } from '../../node/config.js';
import { busPeerUrl } from '../../transports/bus-peer-protocol.js';
import { silent, tempDir } from './outbound-helpers.js';

export const MESH_SECRET = 'outbound-mesh-secret';

/** Generous inbound limits: these tests are about delivery, not the §8.4.6 rate limit. */
const RATE_LIMITS = {
  dm_replicate_envelope: 100_000, dm_replicate_envelopes: 100_000, dm_ack: 100_000, dm_pull: 100_000, infonet_peer_push: 100_000, infonet_sync: 100_000,
};

export interface MeshNode {
  name: string;
  url: string;
  dataDir: string;
  identity: Identity;
  port: number;
  env: Record<string, string>;
  node?: InfonetNode;
}

export interface MeshOptions {
  transport?: 'http' | 'bus';
  /** Undirected edges; default full mesh. */
  edges?: Array<[string, string]>;
  /** NATS server URL per node (bus transport: one federation); default embedded servers. */
  natsUrls?: Record<string, string>;
  env?: Record<string, string>;
}

export class Mesh {
  readonly nodes = new Map<string, MeshNode>();

  private constructor(private readonly opts: MeshOptions) {}

  static async create(names: string[], opts: MeshOptions = {}): Promise<Mesh> {
    const mesh = new Mesh(opts);
    for (const name of names) {
      const identity = generateIdentity();
      const port = await freePort();
      const url = opts.transport === 'bus' ? busPeerUrl(identity.nodeId) : `http://127.0.0.1:${port}`;
      mesh.nodes.set(name, { name, url, identity, port, dataDir: tempDir(`mesh-${name}-`), env: {} });
    }
    const edges = opts.edges ?? names.flatMap((a, i) => names.slice(i + 1).map((b) => [a, b] as [string, string]));
    for (const n of mesh.nodes.values()) {
      const peers = edges.filter((e) => e.includes(n.name)).map((e) => (e[0] === n.name ? e[1] : e[0]));
      n.env = {
        MESH_PEER_PUSH_SECRET: MESH_SECRET,
        MESH_PUBLIC_PEER_URL: n.url,
        MESH_RELAY_PEERS: peers.map((p) => mesh.nodes.get(p)!.url).join(','),
        INFONET_HTTP_PORT: String(n.port),
        ...(opts.env ?? {}),
      };
    }
    return mesh;
  }

  get(name: string): InfonetNode {
    const n = this.nodes.get(name)!.node;
    if (!n) throw new Error(`node ${name} is not running`);
    return n;
  }

  async start(name: string): Promise<InfonetNode> {
    const n = this.nodes.get(name)!;
    const natsUrl = this.opts.natsUrls?.[name];
    const config = resolveConfig({ env: n.env });
    const node = await InfonetNode.start({
      dataDir: n.dataDir, identity: n.identity, logger: silent(), config, inbound: { rateLimits: RATE_LIMITS }, ...(natsUrl ? { natsUrl } : {}),
    });
    n.node = node;
    return node;
  }

  async startAll(): Promise<void> {
    await Promise.all([...this.nodes.keys()].map((k) => this.start(k)));
  }

  async stop(name: string): Promise<void> {
    const n = this.nodes.get(name)!;
    await n.node?.stop();
    n.node = undefined;
  }

  async stopAll(): Promise<void> {
    for (const k of this.nodes.keys()) await this.stop(k);
  }
}
