// The onion side of one node, in two steps because the composition root needs them at different times:
//
//   prepareOnion()  before replication starts: loads (or creates) the onion key, so the node's own peer URL
//                   `http://<id>.onion` is known before tor even runs (it signs X-Peer-Url/HMAC with it unless
//                   MESH_PUBLIC_PEER_URL says otherwise); starts/attaches tor; builds the outbound transport.
//   serve(app)      once the peer application exists: opens the DEDICATED 127.0.0.1 onion listener (the peer HTTP
//                   listener with `via: 'onion'`) and publishes the onion service onto it — and again after each
//                   tor restart. Requests there are onion callers because of the listener they reached, never
//                   because of a header; the plain listener keeps judging its callers by socket address (§9.5).
//
// Modes: `managed` (infonet node run --tor), `external` (--tor-control HOST:PORT), `socks` (MESH_ARTI_ENABLED
// only: outbound through a SOCKS port, no onion service of our own).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PeerApplication } from '../../ports/peer.js';
import { isPrivateTransport, normalizePeerUrl, transportKind } from '../../protocol/peer-url.js';
import { startPeerHttpServer, type PeerHttpServer } from '../http-server.js';
import { ExternalTor, parseTorControlAddress } from './external-tor.js';
import { ManagedTor } from './managed-tor.js';
import { loadOrCreateOnionKey, type OnionKey } from './onion-key.js';
import { publishOnionService, type PublishedOnion } from './onion-service.js';
import { OnionPeerTransport } from './onion-transport.js';
import type { TorControlAuth } from './tor-control.js';
import type { TorEndpoint, TorLog, TorStatus } from './tor-endpoint.js';

export const ONION_KEY_FILE = 'onion_key.json';

export type OnionMode =
  | { kind: 'managed'; extraTorrc?: readonly string[]; bootstrapTimeoutMs?: number }
  | { kind: 'external'; host: string; port: number; auth?: TorControlAuth; socksPort?: number; bootstrapTimeoutMs?: number }
  | { kind: 'socks'; host?: string; port: number };

export interface OnionNodeOptions {
  dataDir: string;
  mode: OnionMode;
  /** Port of the dedicated onion listener (0 = free port). */
  onionPort?: number;
  log: TorLog;
}

export interface OnionStatus {
  /** `http://<id>.onion`, '' in socks-only mode. */
  url: string;
  listener: string;
  published: number;
  tor: TorStatus | { kind: 'socks'; socks: string };
  /** Requests answered by onion peers (outbound). */
  answered: number;
}

export interface OnionNode {
  /** The node's own onion URL ('' in socks-only mode). */
  readonly url: string;
  readonly transport: OnionPeerTransport;
  readonly tor: TorEndpoint | null;
  serve(app: PeerApplication): Promise<void>;
  status(): OnionStatus;
  stop(): Promise<void>;
}

export async function prepareOnion(opts: OnionNodeOptions): Promise<OnionNode> {
  const { mode, log } = opts;
  let tor: TorEndpoint | null = null;
  if (mode.kind === 'managed') {
    tor = await ManagedTor.start({
      dir: join(opts.dataDir, 'tor'), log,
      ...(mode.extraTorrc ? { extraTorrc: mode.extraTorrc } : {}),
      ...(mode.bootstrapTimeoutMs !== undefined ? { bootstrapTimeoutMs: mode.bootstrapTimeoutMs } : {}),
    });
  } else if (mode.kind === 'external') {
    tor = await ExternalTor.start({
      host: mode.host, port: mode.port, log,
      ...(mode.auth ? { auth: mode.auth } : {}),
      ...(mode.socksPort ? { socksPort: mode.socksPort } : {}),
      ...(mode.bootstrapTimeoutMs !== undefined ? { bootstrapTimeoutMs: mode.bootstrapTimeoutMs } : {}),
    });
  }
  const key: OnionKey | null = tor ? loadOrCreateOnionKey(join(opts.dataDir, ONION_KEY_FILE)) : null;
  const socksFixed = mode.kind === 'socks' ? { host: mode.host ?? '127.0.0.1', port: mode.port } : null;
  const transport = new OnionPeerTransport({ socks: socksFixed ?? (() => tor?.socks() ?? null) });
  let listener: PeerHttpServer | null = null;
  let published: PublishedOnion | null = null;

  return {
    url: key?.url ?? '',
    transport,
    tor,
    async serve(app: PeerApplication): Promise<void> {
      if (!tor || !key || listener) return;
      listener = await startPeerHttpServer(app, { host: '127.0.0.1', port: opts.onionPort ?? 0, via: 'onion' });
      published = await publishOnionService(tor, key, listener.port, log);
      log.info({ onion: key.url, listener: listener.url }, 'onion listener ready');
    },
    status(): OnionStatus {
      return {
        url: key?.url ?? '',
        listener: listener?.url ?? '',
        published: published?.published() ?? 0,
        tor: tor ? tor.status() : { kind: 'socks', socks: socksFixed ? `${socksFixed.host}:${socksFixed.port}` : '' },
        answered: transport.answered,
      };
    },
    async stop(): Promise<void> {
      await listener?.close();
      await transport.close();
      await tor?.stop();
    },
  };
}

/** The node settings this file reads (node/config.ts rows tor, torControl, torCookie, torPasswordFile, onionPort, torTorrcExtra). */
export interface OnionConfig {
  tor: boolean;
  torControl: string;
  torCookie: string;
  torPasswordFile: string;
  onionPort: number;
  torTorrcExtra: string;
}

/** Which onion mode the configuration asks for; null = no onion transport at all. */
export function onionModeOf(cfg: OnionConfig, peers: { artiEnabled: boolean; artiSocksPort: number }): OnionMode | null {
  if (cfg.torControl) {
    const { host, port } = parseTorControlAddress(cfg.torControl);
    const auth = {
      ...(cfg.torCookie ? { cookieFile: cfg.torCookie } : {}),
      ...(cfg.torPasswordFile ? { password: readFileSync(cfg.torPasswordFile, 'utf8').trim() } : {}),
    };
    return { kind: 'external', host, port, auth };
  }
  if (cfg.tor) {
    const extra = cfg.torTorrcExtra ? readFileSync(cfg.torTorrcExtra, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')) : [];
    return { kind: 'managed', extraTorrc: extra };
  }
  if (peers.artiEnabled) return { kind: 'socks', port: peers.artiSocksPort };
  return null;
}

export interface OnionHost {
  dataDir: string;
  config: OnionConfig;
  settings: { peers: { artiEnabled: boolean; artiSocksPort: number; publicPeerUrl: string } };
  logger: TorLog & { child(b: object): TorLog };
}

/**
 * The composition root's one call (before the peer transports are built): starts the configured onion mode and,
 * when MESH_PUBLIC_PEER_URL is empty, makes the node's own onion URL its advertised peer URL (X-Peer-Url and
 * HMAC). Returns undefined when no onion transport is configured.
 */
export async function startNodeOnion(host: OnionHost): Promise<OnionNode | undefined> {
  const mode = onionModeOf(host.config, host.settings.peers);
  if (!mode) return undefined;
  const log = host.logger.child({ part: 'onion' });
  const onion = await prepareOnion({ dataDir: host.dataDir, mode, onionPort: host.config.onionPort, log });
  if (onion.url && !host.settings.peers.publicPeerUrl) host.settings.peers.publicPeerUrl = onion.url;
  log.info({ mode: mode.kind, onion: onion.url || undefined, advertised: host.settings.peers.publicPeerUrl || undefined }, 'onion transport on');
  return onion;
}

/** Per peer: the transport kind a URL maps to and whether policy lets this node dial it (node status, §9.1). */
export function peerTransportKinds(peers: readonly string[], allowClearnet: boolean): Array<{ url: string; transport: string; allowed: boolean }> {
  return peers.map((url) => {
    const kind = transportKind(normalizePeerUrl(url));
    return { url, transport: kind || 'unknown', allowed: allowClearnet ? kind !== '' : isPrivateTransport(kind) };
  });
}
