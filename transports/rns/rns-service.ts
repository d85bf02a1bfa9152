// Everything one node runs for RNS, assembled from its settings: the identity (data directory), the endpoint, the
// TCP client interfaces (MESH_RNS_TCP_CONNECT), an optional TCP server interface (MESH_RNS_TCP_LISTEN), a periodic
// announce, and the peer service (outbound PeerTransport + inbound listener). The composition root registers
// `peer` with its transport set and calls `peer.listen(app)`.
import { RnsEndpoint, type RnsEndpointOptions } from './endpoint.js';
import { loadOrCreateIdentity } from './identity-file.js';
import type { RnsInterfaceStatus } from './interface.js';
import { RnsPeerService } from './peer-transport.js';
import { DEFAULT_RECONNECT, TcpClientInterface, TcpServerInterface, type ReconnectPolicy } from './tcp-interface.js';

export interface HostPort {
  host: string;
  port: number;
}

export interface RnsServiceOptions extends Omit<RnsEndpointOptions, 'identity' | 'appData'> {
  /** Reticulum transport nodes or other infonet nodes to connect to. */
  connect?: readonly HostPort[];
  /** Listen for other nodes' RNS TCP client interfaces. */
  listen?: HostPort | null;
  /** Periodic re-announce (§7: minutes to hours); 0 disables (announces still go out on every connect). */
  announceIntervalS?: number;
  reconnect?: ReconnectPolicy;
  maxInboundInFlight?: number;
}

/** `host:port[,host:port…]` (also accepts a `tcp://` prefix) → list; throws RangeError on a malformed item. Port 0 (a free port) only for listening. */
export function parseHostPorts(csv: string | undefined | null, opts: { allowPortZero?: boolean } = {}): HostPort[] {
  if (!csv) return [];
  const out: HostPort[] = [];
  for (const item of csv.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(?:tcp:\/\/)?(\[[^\]]+\]|[^:/]+):(\d{1,5})\/?$/.exec(item);
    const port = m ? Number(m[2]) : NaN;
    if (!m || port < (opts.allowPortZero ? 0 : 1) || port > 65535) throw new RangeError(`not host:port: ${item}`);
    out.push({ host: m[1].replace(/^\[|\]$/g, ''), port });
  }
  return out;
}

export class RnsService {
  readonly endpoint: RnsEndpoint;
  readonly peer: RnsPeerService;
  readonly clients: TcpClientInterface[] = [];
  server: TcpServerInterface | null = null;
  private announceTimer: NodeJS.Timeout | null = null;

  private constructor(endpoint: RnsEndpoint, peer: RnsPeerService) {
    this.endpoint = endpoint;
    this.peer = peer;
  }

  static async start(opts: RnsServiceOptions): Promise<RnsService> {
    const identity = loadOrCreateIdentity(opts.dataDir);
    const endpoint = new RnsEndpoint({ ...opts, identity });
    // app_data names the node's peer URL (§7 keeps it far below 317 bytes).
    endpoint.setAppData(Buffer.from(endpoint.peerUrl, 'utf8'));
    const svc = new RnsService(endpoint, new RnsPeerService(endpoint, { maxInboundInFlight: opts.maxInboundInFlight, ...(opts.log ? { log: opts.log } : {}) }));
    try {
      if (opts.listen) {
        svc.server = new TcpServerInterface('tcp-server', endpoint, opts.listen);
        await svc.server.start();
      }
      (opts.connect ?? []).forEach((target, i) => svc.clients.push(new TcpClientInterface(`tcp-client-${i}`, endpoint, target, opts.reconnect ?? DEFAULT_RECONNECT)));
    } catch (e) {
      await svc.stop();
      throw e;
    }
    const every = opts.announceIntervalS ?? 1800;
    if (every > 0) {
      svc.announceTimer = setInterval(() => endpoint.announce(), every * 1000);
      svc.announceTimer.unref();
    }
    return svc;
  }

  get peerUrl(): string {
    return this.endpoint.peerUrl;
  }

  get listenAddress(): HostPort | null {
    return this.server?.address ?? null;
  }

  status(): { destination_hash: string; peer_url: string; interfaces: RnsInterfaceStatus[]; paths: ReturnType<RnsEndpoint['status']>['paths']; links: ReturnType<RnsEndpoint['status']>['links']; counters: Record<string, number> } {
    const s = this.endpoint.status();
    return {
      destination_hash: s.destinationHash,
      peer_url: s.peerUrl,
      interfaces: [...this.clients.map((c) => c.status()), ...(this.server?.status() ?? [])],
      paths: s.paths,
      links: s.links,
      counters: { ...s.counters, ...this.peer.stats },
    };
  }

  async stop(): Promise<void> {
    if (this.announceTimer) clearInterval(this.announceTimer);
    this.announceTimer = null;
    await this.peer.close();
    for (const c of this.clients) c.stop();
    await this.server?.stop();
    this.endpoint.close();
  }
}
