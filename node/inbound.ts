// Wires the inbound side of replication (issue 5) into a running node: the peer HTTP listener
// (config http host/port, 127.0.0.1 by default), the same endpoints on the bus for nats://<node id> peers,
// and the sync scheduler. All three share one set of handlers (so one set of rate-limit buckets) and
// join the node's graceful stop: stop taking requests first, then let the scheduler finish its cycle.
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { ChainActor } from '../actors/chain-actor.js';
import type { MailboxRegistry } from '../actors/mailbox-registry.js';
import { startSync, type StartSyncOptions, type SyncScheduler } from '../actors/sync-actor.js';
import type { Clock } from '../protocol/clock.js';
import type { Settings } from '../protocol/settings.js';
import type { Db } from '../store/db.js';
import { startBusPeerServer, type BusPeerServer } from '../transports/bus-peer-server.js';
import { startPeerHttpServer, type PeerHttpServer } from '../transports/http-server.js';
import { createPeerEndpoints, type PeerEndpoints, type PeerRouteName } from '../transports/peer-endpoints.js';
import type { NodeConfig } from './config.js';

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
  onStop(fn: () => Promise<void> | void): void;
}

export interface InboundStatus {
  http_url: string;
  sync: { last_outcome: string; last_error: string; next_sync_due_at: number; consecutive_failures: number; peers: number };
}

export interface Inbound {
  endpoints: PeerEndpoints;
  http: PeerHttpServer;
  bus: BusPeerServer | null;
  sync: SyncScheduler;
  status(): InboundStatus;
  stop(): Promise<void>;
}

export interface StartInboundOptions {
  sync?: StartSyncOptions;
  /**
   * Per-route request budgets (per client and minute) replacing the defaults of transports/peer-endpoints.ts
   * (§8.4.6 60/min for replicate-envelope …); `<= 0` disables a route's limit. For test meshes and benchmarks
   * that measure delivery rather than the limiter.
   */
  rateLimits?: Partial<Record<PeerRouteName, number>>;
}

export async function startInbound(node: InboundHost, opts: StartInboundOptions = {}): Promise<Inbound> {
  const log = node.logger.child({ part: 'inbound' });
  const endpoints = createPeerEndpoints({
    chain: node.chain, mailboxes: node.mailboxes, settings: node.settings, clock: node.clock, logger: log,
    ...(opts.rateLimits ? { rateLimits: opts.rateLimits } : {}),
  });
  const http = await startPeerHttpServer(endpoints, { host: node.config.httpHost, port: node.config.httpPort, logger: log });
  let bus: BusPeerServer | null = null;
  let sync: SyncScheduler | null = null;
  try {
    bus = node.nc ? startBusPeerServer(endpoints, { nc: node.nc, nodeId: node.nodeId, logger: log }) : null;
    sync = await startSync({ nodeId: node.nodeId, db: node.db, chain: node.chain, settings: node.settings, clock: node.clock, logger: log, ...(node.nc ? { nc: node.nc } : {}) }, opts.sync);
  } catch (e) {
    await bus?.stop();
    await http.close();
    throw e;
  }
  log.info({ http: http.url, bus: bus?.subject }, 'peer endpoints listening');
  const scheduler = sync;
  let stopping: Promise<void> | null = null;
  const inbound: Inbound = {
    endpoints, http, bus, sync: scheduler,
    status() {
      const s = scheduler.state();
      return {
        http_url: http.url,
        sync: { last_outcome: s.lastOutcome, last_error: s.lastError, next_sync_due_at: s.nextSyncDueAt, consecutive_failures: s.consecutiveFailures, peers: scheduler.peers().length },
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
