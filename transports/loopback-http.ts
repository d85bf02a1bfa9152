// HTTP transport: POST <peer>/api/mesh/<route> with node:http (keep-alive, bounded sockets per peer).
// Used for loopback peers (http://127.0.0.1:PORT, the multi-node harness and a Tor hidden service's local
// side) and, only when MESH_INFONET_ALLOW_CLEARNET_SYNC is on, for clearnet http/https peers. The private-mode
// check lives in TransportSet and runs before this transport is even chosen, so no socket is ever opened to a
// clearnet URL while private transport is required (§9.1, T56).
import http from 'node:http';
import https from 'node:https';
import { transportKind } from '../protocol/peer-url.js';
import { timedOut, unreachable } from '../protocol/peer-call.js';
import { routePath } from '../protocol/peer-routes.js';
import { boundedPost } from './bounded-post.js';
import type { PeerCallRequest as TransportRequest, PeerCallResponse as TransportResponse, PeerTransport } from '../ports/peer.js';

/** Answers larger than this are cut off as an error (a pull answer holds at most a few mailboxes). */
export const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

export interface HttpTransportOptions {
  /** Sockets kept per peer (requests beyond this queue in the agent). Default 16. */
  maxSocketsPerPeer?: number;
  clock?: () => number;
}

export class HttpPeerTransport implements PeerTransport {
  readonly name = 'http';
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly now: () => number;

  constructor(opts: HttpTransportOptions = {}) {
    const maxSockets = opts.maxSocketsPerPeer ?? 16;
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets, scheduling: 'lifo' });
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets, scheduling: 'lifo' });
    this.now = opts.clock ?? (() => Date.now() / 1000);
  }

  handles(peer: string): boolean {
    const k = transportKind(peer);
    return k === 'loopback' || k === 'clearnet';
  }

  send(req: TransportRequest): Promise<TransportResponse> {
    const url = new URL(req.peer + routePath(req.route));
    const isHttps = url.protocol === 'https:';
    return boundedPost(url, req, {
      request: isHttps ? https.request : http.request,
      agent: isHttps ? this.httpsAgent : this.httpAgent,
      maxResponseBytes: MAX_RESPONSE_BYTES,
      now: this.now,
      unreachable: (why) => unreachable(req.peer, why),
      timedOut: () => timedOut(req.peer, req.timeoutMs),
    });
  }

  async close(): Promise<void> {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
