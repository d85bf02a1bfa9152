// Bus transport: a peer reachable on the same NATS federation is `nats://<node id>`; a request is a NATS
// request on `infonet.<node token>.peer.<area>.<verb>` carrying the signed JSON body and the X-Peer-* headers
// as NATS headers (wire format in bus-peer-protocol.ts). "No responders" (the peer's server is down or
// not subscribed yet) is an UNAVAILABLE error, so the outbox retries it like a refused TCP connection.
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { classifyNatsError } from '../bus/nats-errors.js';
import { parseRetryAfter } from '../protocol/retry-after.js';
import { transportKind } from '../protocol/peer-url.js';
import { busPeerNodeId, busPeerSubject, decodeBusPeerReply } from './bus-peer-protocol.js';
import { timedOut, unreachable } from '../protocol/peer-call.js';
import type { PeerCallRequest as TransportRequest, PeerCallResponse as TransportResponse, PeerTransport } from '../ports/peer.js';
import { ErrorCodes, InfonetError } from '../protocol/errors.js';

/**
 * The answer's bytes as sent, and `json` decoded only when a caller asks for it: the sync client parses the bytes
 * itself (keeping payload number literals), so a sync page is not parsed twice.
 */
function withLazyJson(status: number, text: string): TransportResponse {
  let json: unknown;
  let parsed = false;
  return {
    status,
    body: Buffer.from(text, 'utf8'),
    get json(): unknown {
      if (!parsed) {
        parsed = true;
        try {
          json = JSON.parse(text) as unknown;
        } catch {
          json = undefined;
        }
      }
      return json;
    },
  };
}

export class BusPeerTransport implements PeerTransport {
  readonly name = 'bus';

  constructor(private readonly nc: NatsConnection, private readonly clock: () => number = () => Date.now() / 1000) {}

  handles(peer: string): boolean {
    return transportKind(peer) === 'bus' && busPeerNodeId(peer) !== null;
  }

  async send(req: TransportRequest): Promise<TransportResponse> {
    const nodeId = busPeerNodeId(req.peer);
    if (!nodeId) throw new InfonetError(ErrorCodes.BAD_INPUT, `not a bus peer URL: ${req.peer}`, { peer: req.peer });
    const h = natsHeaders();
    for (const [k, v] of Object.entries(req.headers)) h.set(k, v);
    let reply;
    try {
      reply = await this.nc.request(busPeerSubject(nodeId, req.route), req.body, { timeout: req.timeoutMs, headers: h });
    } catch (e) {
      const kind = classifyNatsError(e);
      if (kind === 'timeout') throw timedOut(req.peer, req.timeoutMs);
      if (kind === 'no_responders') throw unreachable(req.peer, 'no responders');
      if (kind === 'permission') throw unreachable(req.peer, 'bus permission denied for this peer subject');
      throw unreachable(req.peer, (e as Error)?.message ?? String(e));
    }
    const r = decodeBusPeerReply(reply.data, req.peer);
    const out: TransportResponse = r.text !== undefined
      ? withLazyJson(r.status, r.text)
      : { status: r.status, json: r.json, body: r.json === undefined ? new Uint8Array() : Buffer.from(JSON.stringify(r.json), 'utf8') };
    if (r.retry_after !== undefined) out.retryAfterS = parseRetryAfter(r.retry_after, this.clock());
    return out;
  }

  async close(): Promise<void> {
    // The connection belongs to the node.
  }
}
