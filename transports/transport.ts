// The outbound side of the peer port (ports/peer.ts): a TransportSet routes each call to the transport registered
// for the peer URL's kind. The composition root (node/peer-transports.ts) builds it from a list — HTTP for
// loopback/clearnet, the bus for nats://<node id>, and onion/RNS added the same way — and hands it to actors as a
// PeerPort. A transport only moves bytes; which peers, what to send, retries and caps are decided by the actors.
import { ErrorCodes, InfonetError } from '../protocol/errors.js';
import { peerAllowed, privateTransportRequired } from '../protocol/peer-call.js';
import { transportKind } from '../protocol/peer-url.js';
import type { PeerCallRequest, PeerCallResponse, PeerPort, PeerTransport } from '../ports/peer.js';

/** How a peer call ended: the HTTP-like status of the answer, or 'error' (unreachable, timeout, refused by policy). */
export type PeerCallObserver = (req: PeerCallRequest, seconds: number, outcome: number | 'error') => void;

/** Routes a request to the first registered transport that handles the peer; §9.1 policy is checked first. */
export class TransportSet implements PeerPort {
  private readonly transports: PeerTransport[] = [];
  private observer?: PeerCallObserver;

  constructor(transports: readonly PeerTransport[], private readonly allowClearnet: boolean) {
    for (const t of transports) this.register(t);
  }

  /** Adds a transport (onion, RNS, …). Earlier registrations win when two handle the same URL. */
  register(t: PeerTransport): this {
    if (this.transports.some((x) => x.name === t.name)) {
      throw new InfonetError(ErrorCodes.BAD_INPUT, `transport ${t.name} is already registered`);
    }
    this.transports.push(t);
    return this;
  }

  /** Told the round-trip time of every call (node/metrics.ts: latency histograms and the console's chart). */
  observe(fn: PeerCallObserver | undefined): void {
    this.observer = fn;
  }

  send(req: PeerCallRequest): Promise<PeerCallResponse> {
    const obs = this.observer;
    if (!obs) return this.route(req);
    const t0 = performance.now();
    const p = this.route(req);
    p.then((r) => obs(req, (performance.now() - t0) / 1000, r.status), () => obs(req, (performance.now() - t0) / 1000, 'error'));
    return p;
  }

  get names(): string[] {
    return this.transports.map((t) => t.name);
  }

  private route(req: PeerCallRequest): Promise<PeerCallResponse> {
    // Policy first: a clearnet peer in private mode is an error for that peer, with no connection attempt.
    if (!peerAllowed(req.peer, this.allowClearnet)) return Promise.reject(privateTransportRequired(req.peer));
    const t = this.transports.find((x) => x.handles(req.peer));
    if (!t) {
      return Promise.reject(new InfonetError(ErrorCodes.BAD_INPUT, `no transport for peer ${req.peer} (kind ${transportKind(req.peer) || 'unknown'})`, { peer: req.peer }));
    }
    return t.send(req);
  }

  async close(): Promise<void> {
    await Promise.all(this.transports.map((t) => t.close().catch(() => undefined)));
  }
}
