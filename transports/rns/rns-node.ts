// The composition root's one call for RNS (like transports/onion/onion-node.ts): reads the node's RNS rows
// (node/config.ts: rns, rnsTcpConnect, rnsTcpListen, rnsAnnounceIntervalS), starts the RnsService, and — when
// MESH_PUBLIC_PEER_URL is empty — makes `rns://<destination hash>` the node's advertised peer URL, so X-Peer-Url and
// the §8 HMAC name the URL peers reach it by. The root then registers `service.peer` in its transport set and calls
// `service.peer.listen(app)` once the peer application exists.
import { ErrorCodes, InfonetError } from '../../protocol/errors.js';
import { parseHostPorts, RnsService, type HostPort, type RnsServiceOptions } from './rns-service.js';

export interface RnsConfig {
  rns: boolean;
  /** `host:port[,host:port…]`: Reticulum transport nodes or other infonet nodes. */
  rnsTcpConnect: string;
  /** `host:port` of this node's RNS TCP server interface ('' = none). */
  rnsTcpListen: string;
  rnsAnnounceIntervalS: number;
}

export interface RnsHost {
  dataDir: string;
  config: RnsConfig;
  settings: { peers: { publicPeerUrl: string } };
  logger: { info(o: object, msg: string): void; warn(o: object, msg: string): void; child(b: object): RnsHost['logger'] };
  /** Test hooks (faster timers). */
  overrides?: Partial<RnsServiceOptions>;
}

export const rnsEnabled = (c: RnsConfig): boolean => c.rns || c.rnsTcpConnect !== '' || c.rnsTcpListen !== '';

export async function startNodeRns(host: RnsHost): Promise<RnsService | undefined> {
  const c = host.config;
  if (!rnsEnabled(c)) return undefined;
  const log = host.logger.child({ part: 'rns' });
  const listen = hostPorts('--rns-listen', c.rnsTcpListen, true)[0] ?? null;
  const service = await RnsService.start({
    dataDir: host.dataDir,
    connect: hostPorts('--rns-connect', c.rnsTcpConnect),
    listen,
    announceIntervalS: c.rnsAnnounceIntervalS,
    log: (msg, fields) => log.warn(fields ?? {}, msg),
    ...host.overrides,
  });
  if (!host.settings.peers.publicPeerUrl) host.settings.peers.publicPeerUrl = service.peerUrl;
  log.info({ destination: service.endpoint.destinationHex, listen: service.listenAddress, connect: c.rnsTcpConnect || undefined, advertised: host.settings.peers.publicPeerUrl }, 'rns transport on');
  return service;
}

function hostPorts(setting: string, value: string, allowPortZero = false): HostPort[] {
  try {
    return parseHostPorts(value, { allowPortZero });
  } catch (e) {
    throw new InfonetError(ErrorCodes.BAD_INPUT, `${setting}: ${(e as Error).message}`);
  }
}
