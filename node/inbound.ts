// Wires the inbound side of replication into a running node: one peer application (peer/app.ts) behind the peer HTTP
// listener (config http host/port, 127.0.0.1 by default) and the bus listener for nats://<node id> peers, plus the
// sync scheduler over the node's peer port. Listeners share the application, so one set of rate-limit buckets. Joins
// the node's graceful stop: stop taking requests first, then let the scheduler finish its cycle.
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { ChainActor } from '../actors/chain-actor.js';
import type { MailboxRegistry } from '../actors/mailbox-registry.js';
import { startSync, type StartSyncOptions, type SyncScheduler } from '../actors/sync-actor.js';
import { createPeerApplication, type PeerApp } from '../peer/app.js';
import type { PeerPort } from '../ports/peer.js';
import type { InboundStatus } from '../ports/status.js';
import type { Clock } from '../protocol/clock.js';
import type { Identity } from '../protocol/identity.js';
import type { PeerRouteName } from '../protocol/peer-routes.js';
import type { Settings } from '../protocol/settings.js';
import type { Db } from '../store/db.js';
import { startBusPeerServer, type BusPeerServer } from '../transports/bus-peer-server.js';
import { startPeerHttpServer, type PeerHttpServer } from '../transports/http-server.js';
import type { NodeConfig } from './config.js';
import { busSelfUrlOf } from './peer-transports.js';


/** What the inbound side needs from the node (InfonetNode has all of it). */
export interface InboundHost {
  nodeId: string;
  db: Db;
  chain: ChainActor;
  mailboxes: MailboxRegistry;
  settings: Settings;
  config: Pick<NodeConfig, 'httpHost' | 'httpPort'>;
  clock: Clock;
  logger: Logger;
  nc?: NatsConnection;
  /** The node's outbound peer port (sync pulls through it). */
  peers?: PeerPort;
  /** Every authenticated inbound request reports its peer URL here (issue 8: contact clears that peer's ladder). */
  onPeerContact?: (peerUrl: string) => void;
  /** The node identity: sync re-appends its events after a short-fork rebuild (§9.3 item 2, docs/sync.md). */
  identity?: Identity;
  onStop(fn: () => Promise<void> | void): void;
}

export interface Inbound {
  app: PeerApp;
  http: PeerHttpServer;
  bus: BusPeerServer | null;
  sync: SyncScheduler;
  status(): InboundStatus;
  stop(): Promise<void>;
}

export interface StartInboundOptions {
  sync?: StartSyncOptions;
  /**
   * Per-route request budgets (per client and minute) replacing protocol/peer-routes.ts DEFAULT_RATE_LIMITS
   * (§8.4.6 60/min for replicate-envelope …); `<= 0` disables a route's limit. For test meshes and benchmarks
   * that measure delivery rather than the limiter.
   */
  rateLimits?: Partial<Record<PeerRouteName, number>>;
}

export async function startInbound(node: InboundHost, opts: StartInboundOptions = {}): Promise<Inbound> {
  const log = node.logger.child({ part: 'inbound' });
  const app = createPeerApplication({
    chain: node.chain, mailboxes: node.mailboxes, settings: node.settings, clock: node.clock, logger: log,
    ...(opts.rateLimits ? { rateLimits: opts.rateLimits } : {}),
    ...(node.onPeerContact ? { onPeerContact: node.onPeerContact } : {}),
  });
  const http = await startPeerHttpServer(app, { host: node.config.httpHost, port: node.config.httpPort, logger: log });
  let bus: BusPeerServer | null = null;
  let sync: SyncScheduler | null = null;
  try {
    bus = node.nc ? startBusPeerServer(app, { nc: node.nc, nodeId: node.nodeId, logger: log }) : null;
    sync = await startSync({
      nodeId: node.nodeId, db: node.db, chain: node.chain, settings: node.settings, clock: node.clock, logger: log,
      ...(node.peers ? { peers: node.peers } : {}), busSelfUrl: busSelfUrlOf(node.nodeId, node.nc),
      ...(node.identity ? { identity: node.identity } : {}),
    }, opts.sync);
  } catch (e) {
    await bus?.stop();
    await http.close();
    throw e;
  }
  log.info({ http: http.url, bus: bus?.subject }, 'peer endpoints listening');
  const scheduler = sync;
  let stopping: Promise<void> | null = null;
  const inbound: Inbound = {
    app, http, bus, sync: scheduler,
    status() {
      const s = scheduler.state();
      return {
        http_url: http.url,
        sync: {
          last_outcome: s.lastOutcome, last_error: s.lastError, next_sync_due_at: s.nextSyncDueAt, consecutive_failures: s.consecutiveFailures, peers: scheduler.peers().length,
          metrics: { ...scheduler.metrics() },
        },
      };
    },
    stop() {
      stopping ??= (async () => {
        await bus?.stop();
        await http.close();
        await scheduler.stop();
      })();
      return stopping;
    },
  };
  node.onStop(() => inbound.stop());
  return inbound;
}
