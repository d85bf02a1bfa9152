// The peer port over RNS (ports/peer.ts): `RnsPeerTransport` carries outbound calls to `rns://<32 hex>` peers as
// request messages and waits for the matching response; `RnsPeerListener` hands inbound requests to the peer
// application with `via: 'rns'` (RNS callers are private callers, §9.5) and sends the answer back. Both share one
// endpoint, which dispatches every complete message here.
//   no path / interface down / chunks never proven → UNAVAILABLE (retryable); no answer in time → TIMEOUT.
import { randomBytes } from 'node:crypto';
import type { PeerApplication, PeerCallRequest, PeerCallResponse, PeerTransport } from '../../ports/peer.js';
import { ErrorCodes, InfonetError } from '../../protocol/errors.js';
import { timedOut, unreachable } from '../../protocol/peer-call.js';
import { findRoute, routePath } from '../../protocol/peer-routes.js';
import { normalizePeerUrl, transportKind } from '../../protocol/peer-url.js';
import { parseRetryAfter } from '../../protocol/retry-after.js';
import { RnsSendError, type RnsEndpoint } from './endpoint.js';
import { KIND_REQUEST, KIND_RESPONSE, decodePeerMessage, encodePeerMessage, type RnsPeerRequestMessage, type RnsPeerResponseMessage } from './peer-messages.js';

/** `rns://<hash>` → the 32-hex destination, or null. */
export function rnsDestinationOf(peer: string): string | null {
  const url = normalizePeerUrl(peer);
  if (transportKind(url) !== 'rns') return null;
  return url.slice('rns://'.length);
}

interface Waiting {
  resolve(r: RnsPeerResponseMessage): void;
}

/**
 * Owns the endpoint's message dispatch: responses go to the waiting caller, requests to the listener (if any).
 * Bounded: callers time out, and inbound requests beyond `maxInboundInFlight` are answered 503 at once.
 */
export class RnsPeerService implements PeerTransport {
  readonly name = 'rns';
  private readonly waiting = new Map<string, Waiting>();
  private app: PeerApplication | null = null;
  private inboundInFlight = 0;
  /** Requests that arrived before listen(app); at most maxInboundInFlight, the rest are answered 503. */
  private readonly beforeListen: RnsPeerRequestMessage[] = [];
  private closed = false;
  readonly stats = { requestsSent: 0, responsesReceived: 0, requestsServed: 0, requestsRefused: 0, malformed: 0 };

  constructor(
    readonly endpoint: RnsEndpoint,
    private readonly opts: { maxInboundInFlight?: number; clock?: () => number; log?: (msg: string, f?: Record<string, unknown>) => void } = {},
  ) {
    endpoint.onMessage = (m) => this.onMessage(m);
  }

  get selfUrl(): string {
    return this.endpoint.peerUrl;
  }

  /** Start serving inbound requests with the node's peer application. */
  listen(app: PeerApplication): void {
    this.app = app;
    for (const m of this.beforeListen.splice(0)) void this.serve(m);
  }

  handles(peer: string): boolean {
    return rnsDestinationOf(peer) !== null;
  }

  async send(req: PeerCallRequest): Promise<PeerCallResponse> {
    const dest = rnsDestinationOf(req.peer);
    if (!dest) throw new InfonetError(ErrorCodes.BAD_INPUT, `not an RNS peer URL: ${req.peer}`, { peer: req.peer });
    if (this.closed) throw unreachable(req.peer, 'rns transport closed');
    if (dest === this.endpoint.destinationHex) throw new InfonetError(ErrorCodes.BAD_INPUT, 'refusing to call our own RNS destination', { peer: req.peer });
    const id = randomBytes(16);
    const key = id.toString('hex');
    const msg = encodePeerMessage({ kind: KIND_REQUEST, id, from: this.endpoint.destinationHex, method: 'POST', path: routePath(req.route), headers: { ...req.headers }, body: Buffer.from(req.body) });
    let timer: NodeJS.Timeout | undefined;
    const answered = new Promise<RnsPeerResponseMessage>((resolve, reject) => {
      this.waiting.set(key, { resolve });
      timer = setTimeout(() => reject(timedOut(req.peer, req.timeoutMs)), req.timeoutMs);
      timer.unref();
    });
    answered.catch(() => undefined);
    try {
      this.stats.requestsSent++;
      await Promise.race([this.endpoint.sendMessage(dest, msg), answered.then(() => undefined)]);
      const r = await answered;
      this.stats.responsesReceived++;
      const out: PeerCallResponse = { status: r.status, body: r.body };
      if (r.retryAfter !== undefined) out.retryAfterS = parseRetryAfter(r.retryAfter, (this.opts.clock ?? (() => Date.now() / 1000))());
      return out;
    } catch (e) {
      if (e instanceof InfonetError) throw e;
      if (e instanceof RnsSendError) {
        if (e.kind === 'too_large') throw new InfonetError(ErrorCodes.BAD_INPUT, e.message, { peer: req.peer });
        throw unreachable(req.peer, e.message);
      }
      throw unreachable(req.peer, (e as Error)?.message ?? String(e));
    } finally {
      clearTimeout(timer);
      this.waiting.delete(key);
    }
  }

  private onMessage(raw: Buffer): void {
    const m = decodePeerMessage(raw);
    if (!m) {
      this.stats.malformed++;
      return;
    }
    if (m.kind === KIND_RESPONSE) {
      this.waiting.get(m.id.toString('hex'))?.resolve(m);
      return;
    }
    void this.serve(m);
  }

  private async serve(m: RnsPeerRequestMessage): Promise<void> {
    if (this.closed) return;
    const app = this.app;
    const max = this.opts.maxInboundInFlight ?? 64;
    if (!app && this.beforeListen.length < max) {
      // The endpoint is up (interfaces connected, announce sent) before the composition root calls listen(app), so a
      // node that heard our announce — typically a TCP server node pulling from a client that just connected — can
      // ask before we can answer. Dropping it silently cost the caller a TIMEOUT and a §9.6 cooldown; hold it
      // (bounded) and serve it once the application is registered.
      this.beforeListen.push(m);
      return;
    }
    let status: number;
    let body: string;
    let retryAfter: string | undefined;
    const claimed = m.headers['X-Peer-Url'] ?? m.headers['x-peer-url'];
    const claimedUrl = claimed === undefined ? '' : normalizePeerUrl(claimed);
    if (transportKind(claimedUrl) === 'rns' && claimedUrl !== `rns://${m.from}`) {
      // The answer goes to `from`: a caller signing as one RNS peer must not aim answers at another. (A node that
      // advertises another URL — its onion, MESH_PUBLIC_PEER_URL — may still call over RNS under that URL.)
      this.stats.requestsRefused++;
      status = 403;
      body = JSON.stringify({ ok: false, detail: 'X-Peer-Url does not match the RNS reply destination' });
    } else if (!findRoute(m.method, m.path)) {
      this.stats.requestsRefused++;
      status = 404;
      body = JSON.stringify({ ok: false, detail: 'not found' });
    } else if (m.body.length > findRoute(m.method, m.path)!.maxBytes) {
      // docs/peer-layer.md: a listener enforces the route's body limit on the bytes it read (the app checks again).
      this.stats.requestsRefused++;
      status = 413;
      body = JSON.stringify({ ok: false, detail: 'body too large' });
    } else if (!app || this.inboundInFlight >= max) {
      this.stats.requestsRefused++;
      status = 503;
      retryAfter = '1';
      body = JSON.stringify({ ok: false, detail: 'busy' });
    } else {
      this.inboundInFlight++;
      try {
        const r = await app.handle({ method: m.method, path: m.path, body: m.body, headers: m.headers, remoteAddress: '', via: 'rns' });
        status = r.status;
        body = r.body;
        const ra = r.headers?.['Retry-After'] ?? r.headers?.['retry-after'];
        if (ra !== undefined) retryAfter = String(ra);
        this.stats.requestsServed++;
      } catch (e) {
        this.opts.log?.('rns peer request failed', { error: (e as Error).message });
        status = 500;
        body = JSON.stringify({ ok: false, detail: 'internal error' });
      } finally {
        this.inboundInFlight--;
      }
    }
    try {
      await this.endpoint.sendMessage(m.from, encodePeerMessage({ kind: KIND_RESPONSE, id: m.id, status, ...(retryAfter !== undefined ? { retryAfter } : {}), body: Buffer.from(body, 'utf8') }));
    } catch (e) {
      // The caller times out and retries; replicated operations are idempotent.
      this.opts.log?.('rns peer response not delivered', { to: m.from, error: (e as Error).message });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.app = null;
    this.beforeListen.length = 0;
  }
}
