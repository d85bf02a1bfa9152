// Wires outbound replication into a running node: outbox on the node's LevelDB and group committer, the node's peer
// port (node/peer-transports.ts), the replication coordinator with one link actor per push peer, and a stop hook.
// Without push peers it idles; without a peer secret it logs why peer push is off and the node runs on (issue 5: no
// built-in shared secret).
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { MailboxRegistry } from '../actors/mailbox-registry.js';
import type { RetryPolicy } from '../actors/peer-link-actor.js';
import { Replicator } from '../actors/replication-actor.js';
import type { PeerPort } from '../ports/peer.js';
import type { Clock } from '../protocol/clock.js';
import type { Settings } from '../protocol/settings.js';
import type { Db } from '../store/db.js';
import { OutboxStore } from '../store/outbox-store.js';
import { busSelfUrlOf } from './peer-transports.js';

/** What replication needs from the node (InfonetNode has all of it). */
export interface ReplicationHost {
  nodeId: string;
  db: Db;
  mailboxes: MailboxRegistry;
  settings: Settings;
  logger: Logger;
  clock: Clock;
  nc?: NatsConnection;
  peers: PeerPort;
  /** A peer answered a push/ack/pull (issue 8: contact clears that peer's sync ladder). */
  onPeerContact?: (peerUrl: string) => void;
  onStop(fn: () => Promise<void> | void): void;
}

export interface StartReplicationOptions {
  policy?: Partial<RetryPolicy>;
  pullWaitMs?: number;
}

export async function startReplication(node: ReplicationHost, opts: StartReplicationOptions = {}): Promise<Replicator> {
  const replicator = await Replicator.start({
    mailboxes: node.mailboxes,
    store: new OutboxStore(node.db, node.mailboxes.store.committer),
    transports: node.peers,
    settings: node.settings.peers,
    messageTtlS: node.settings.relay.messageTtlS,
    selfUrl: node.settings.peers.publicPeerUrl,
    busSelfUrl: busSelfUrlOf(node.nodeId, node.nc),
    clock: node.clock,
    logger: node.logger.child({ part: 'replication' }),
    ...(node.onPeerContact ? { onPeerContact: node.onPeerContact } : {}),
    ...(opts.policy ? { policy: opts.policy } : {}),
    ...(opts.pullWaitMs !== undefined ? { pullWaitMs: opts.pullWaitMs } : {}),
  });
  node.onStop(() => replicator.stop());
  return replicator;
}
