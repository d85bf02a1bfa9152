// Wires outbound replication (issue 5) into a running node: outbox on the node's LevelDB and group committer,
// the transport set (HTTP for loopback / allowed clearnet peers, the bus for nats://<node id> peers), the
// replication coordinator with one link actor per push peer, and a stop hook. Without push peers it idles; without
// a peer secret it logs why peer push is off and the node runs on (issue 5: no built-in shared secret).
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { MailboxRegistry } from '../actors/mailbox-registry.js';
import type { RetryPolicy } from '../actors/peer-link-actor.js';
import { Replicator } from '../actors/replication-actor.js';
import type { Clock } from '../protocol/clock.js';
import type { Settings } from '../protocol/settings.js';
import type { Db } from '../store/db.js';
import { OutboxStore } from '../store/outbox-store.js';
import { busPeerUrl } from '../transports/bus-peer-protocol.js';
import { BusPeerTransport } from '../transports/bus-transport.js';
import { HttpPeerTransport } from '../transports/loopback-http.js';
import { TransportSet } from '../transports/transport.js';

/** What replication needs from the node (InfonetNode has all of it). */
export interface ReplicationHost {
  nodeId: string;
  db: Db;
  mailboxes: MailboxRegistry;
  settings: Settings;
  logger: Logger;
  clock: Clock;
  nc?: NatsConnection;
  onStop(fn: () => Promise<void> | void): void;
}

export interface StartReplicationOptions {
  policy?: Partial<RetryPolicy>;
  pullWaitMs?: number;
}

export async function startReplication(node: ReplicationHost, opts: StartReplicationOptions = {}): Promise<Replicator> {
  const clock = node.clock;
  const transports = new TransportSet(
    [new HttpPeerTransport({ clock }), ...(node.nc ? [new BusPeerTransport(node.nc, clock)] : [])],
    node.settings.peers.allowClearnetSync,
  );
  const replicator = await Replicator.start({
    mailboxes: node.mailboxes,
    store: new OutboxStore(node.db, node.mailboxes.store.committer),
    transports,
    settings: node.settings.peers,
    messageTtlS: node.settings.relay.messageTtlS,
    selfUrl: node.settings.peers.publicPeerUrl,
    busSelfUrl: node.nc ? busPeerUrl(node.nodeId) : '',
    clock,
    logger: node.logger.child({ part: 'replication' }),
    ...(opts.policy ? { policy: opts.policy } : {}),
    ...(opts.pullWaitMs !== undefined ? { pullWaitMs: opts.pullWaitMs } : {}),
  });
  node.onStop(() => replicator.stop());
  return replicator;
}
