// Outbound peer transport for `http://<56 chars>.onion[:port]` peers (§8.1, §8.3.3–4): plain HTTP through Tor's
// SOCKS5 port with the hostname handed to Tor unresolved (socks5h — a local DNS lookup of an onion name would
// both fail and leak it). The SOCKS client is socks-proxy-agent; we write no SOCKS code.
//
// Every failure to get an answer (SOCKS 0x04 "host unreachable" while a descriptor is not yet published, a circuit
// that dies, tor not running) is UNAVAILABLE and a missed deadline TIMEOUT — both retryable, so the durable outbox
// and the peer-link backoff treat an onion peer exactly like any other peer. The deadline comes from the caller
// (pushTimeoutMs gives onion peers ≥ 180 s, sync uses MESH_SYNC_TIMEOUT_S).
import http from 'node:http';
import { SocksProxyAgent } from 'socks-proxy-agent';
import { ErrorCodes, InfonetError } from '../../protocol/errors.js';
import { transportKind } from '../../protocol/peer-url.js';
import { routePath } from '../../protocol/peer-routes.js';
import { boundedPost } from '../bounded-post.js';
import type { PeerCallRequest, PeerCallResponse, PeerTransport } from '../../ports/peer.js';
import { isOnionV3ServiceId } from './onion-key.js';

/** Answers larger than this are cut off as an error (same bound as the loopback HTTP transport). */
export const MAX_ONION_RESPONSE_BYTES = 4 * 1024 * 1024;

export interface OnionTransportOptions {
  /** Tor's SOCKS listener. A function so a restarted managed tor on a new port is picked up. */
  socks: { host: string; port: number } | (() => { host: string; port: number } | null);
  /** Connections kept per onion peer; each costs a rendezvous circuit, so reuse matters. Default 4. */
  maxSocketsPerPeer?: number;
  clock?: () => number;
}

const unavailable = (peer: string, why: string): InfonetError =>
  new InfonetError(ErrorCodes.UNAVAILABLE, `peer ${peer} unreachable over onion: ${why}`, { peer, transport: 'onion' });

/** The `<id>.onion` host of a peer URL when it is a well-formed v3 onion URL, else null. */
export function onionHostOf(peer: string): string | null {
  if (transportKind(peer) !== 'onion') return null;
  let url: URL;
  try {
    url = new URL(peer);
  } catch {
    return null;
  }
  const label = url.hostname.slice(0, -'.onion'.length);
  return isOnionV3ServiceId(label) ? url.hostname : null;
}

export class OnionPeerTransport implements PeerTransport {
  readonly name = 'onion';
  private agent: SocksProxyAgent | null = null;
  private agentFor = '';
  private readonly now: () => number;
  /** Deliveries that got an answer, for the per-transport counts in status and the harness report. */
  answered = 0;

  constructor(private readonly opts: OnionTransportOptions) {
    this.now = opts.clock ?? (() => Date.now() / 1000);
  }

  handles(peer: string): boolean {
    return transportKind(peer) === 'onion';
  }

  private socksAgent(): SocksProxyAgent | null {
    const s = typeof this.opts.socks === 'function' ? this.opts.socks() : this.opts.socks;
    if (!s) return null;
    const key = `${s.host}:${s.port}`;
    if (this.agent && this.agentFor === key) return this.agent;
    this.agent?.destroy();
    // socks5h: the proxy resolves the name. keepAlive: one rendezvous circuit serves many requests.
    this.agent = new SocksProxyAgent(`socks5h://${key}`, {
      keepAlive: true,
      maxSockets: this.opts.maxSocketsPerPeer ?? 4,
      scheduling: 'lifo',
    });
    this.agentFor = key;
    return this.agent;
  }

  send(req: PeerCallRequest): Promise<PeerCallResponse> {
    const host = onionHostOf(req.peer);
    if (!host) {
      return Promise.reject(new InfonetError(ErrorCodes.BAD_INPUT, `not a v3 onion peer URL: ${req.peer}`, { peer: req.peer }));
    }
    const agent = this.socksAgent();
    if (!agent) return Promise.reject(unavailable(req.peer, 'tor is not running'));
    const url = new URL(req.peer + routePath(req.route));
    return boundedPost(url, req, {
      request: http.request,
      agent,
      maxResponseBytes: MAX_ONION_RESPONSE_BYTES,
      now: this.now,
      unreachable: (why) => unavailable(req.peer, why),
      // One overall deadline (SOCKS + circuit + rendezvous + answer), not an idle timeout.
      timedOut: () => new InfonetError(ErrorCodes.TIMEOUT, `peer ${req.peer} did not answer within ${req.timeoutMs} ms`, { peer: req.peer, timeout_ms: req.timeoutMs, transport: 'onion' }),
      onAnswer: () => { this.answered++; },
    });
  }

  async close(): Promise<void> {
    this.agent?.destroy();
    this.agent = null;
  }
}
