// Outbound peer transports, registered by URL kind in one list (issue 9): loopback/clearnet HTTP, the NATS bus for
// nats://<node id>; onion (engineer G) and RNS (engineer F) add their entry to `extra` or call `register`. The set is
// the one PeerPort that replication and sync share; the node closes it after both have stopped.
import type { NatsConnection } from '@nats-io/transport-node';
import type { Clock } from '../protocol/clock.js';
import type { PeerTransport } from '../ports/peer.js';
import { busPeerUrl } from '../transports/bus-peer-protocol.js';
import { BusPeerTransport } from '../transports/bus-transport.js';
import { HttpPeerTransport } from '../transports/loopback-http.js';
import { TransportSet } from '../transports/transport.js';

export interface PeerTransportHost {
  nodeId: string;
  clock: Clock;
  allowClearnet: boolean;
  nc?: NatsConnection;
  /** Further transports (onion, RNS), in priority order after HTTP and the bus. */
  extra?: readonly PeerTransport[];
}

export function buildPeerTransports(host: PeerTransportHost): TransportSet {
  const list: PeerTransport[] = [new HttpPeerTransport({ clock: host.clock })];
  if (host.nc) list.push(new BusPeerTransport(host.nc, host.clock));
  return new TransportSet([...list, ...(host.extra ?? [])], host.allowClearnet);
}

/** The URL this node signs bus requests as (`nats://<node id>`), '' without a bus. */
export const busSelfUrlOf = (nodeId: string, nc?: NatsConnection): string => (nc ? busPeerUrl(nodeId) : '');
