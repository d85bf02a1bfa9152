// The peer application (peer/app.ts) over NATS for peers addressed `nats://<node id>` (transport kind `bus`, §8.1 extension).
// Wire format (subjects, headers, reply) is documented in transports/bus-peer-protocol.ts, shared with the
// client side (transports/bus-transport.ts):
//
//   request   infonet.<node token>.peer.<dm_replicate_envelope|dm_replicate_envelopes|infonet_peer_push|infonet_sync|dm_ack|dm_pull>
//             payload = the exact JSON body an HTTP POST carries; NATS headers X-Peer-Url / X-Peer-HMAC
//   reply     msgpack {status, body: <exact JSON text of the answer>, retry_after?}
//
// The answer travels as its JSON text (`body`) rather than decoded (`json`) so sync pages keep their wire
// form (integer-literal legacy timestamps, §2.5) for any client that wants the bytes. The bus counts as a
// private transport: callers get private events unless clearnet sync is allowed (§9.5.1). Only the POST
// forms exist on the bus.
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { encode } from '../bus/codec.js';
import type { InboundPeerResponse as PeerResponse, PeerApplication } from '../ports/peer.js';
import { routePath } from '../protocol/peer-routes.js';
import { busPeerRouteOf, busPeerWildcard } from './bus-peer-protocol.js';


/** The msgpack reply for a handler answer. */
function encodeBusAnswer(r: Pick<PeerResponse, 'status' | 'body' | 'headers'>): Uint8Array {
  const ra = r.headers?.['Retry-After'];
  return encode(ra === undefined ? { status: r.status, body: r.body } : { status: r.status, body: r.body, retry_after: ra });
}

export interface BusPeerServer {
  subject: string;
  stop(): Promise<void>;
}

export interface BusPeerServerOptions {
  nc: NatsConnection;
  nodeId: string;
  logger?: Logger;
}

export function startBusPeerServer(app: PeerApplication, opts: BusPeerServerOptions): BusPeerServer {
  const subject = busPeerWildcard(opts.nodeId);
  const inflight = new Set<Promise<void>>();

  const serve = async (m: Msg): Promise<void> => {
    const route = busPeerRouteOf(m.subject);
    let r: Pick<PeerResponse, 'status' | 'body' | 'headers'>;
    if (!route) {
      r = { status: 404, body: JSON.stringify({ ok: false, detail: 'Not Found' }) };
    } else {
      const headers: Record<string, string> = {};
      for (const k of ['X-Peer-Url', 'X-Peer-HMAC']) {
        const v = m.headers?.get(k);
        if (v) headers[k.toLowerCase()] = v;
      }
      r = await app.handle({
        method: 'POST', path: routePath(route), body: Buffer.from(m.data), headers, remoteAddress: '', via: 'bus',
      });
    }
    if (m.reply) m.respond(encodeBusAnswer(r));
  };

  const sub: Subscription = opts.nc.subscribe(subject, {
    callback: (err, m) => {
      if (err) return;
      const p = serve(m).catch((e: unknown) => opts.logger?.error({ err: (e as Error)?.message, subject: m.subject }, 'bus peer request failed'));
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    },
  });

  return {
    subject,
    async stop() {
      sub.unsubscribe();
      while (inflight.size) await Promise.allSettled([...inflight]);
    },
  };
}
