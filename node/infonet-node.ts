// The composition root: one running node = one data directory, one LevelDB, one chain actor, one mailbox registry,
// one NATS connection (to an embedded nats-server by default), the bus service and the event publisher.
//
// Start-up order matters:
//   1. open the database first — it takes the directory lock, so a second node on the same directory fails here
//      with "data directory in use" before it touches the key file or starts a server;
//   2. load (or create, mode 600) the node key <data>/node.key.json: its node_id names the node on the bus;
//   3. chain actor (verifies the store), mailbox registry on the same Db and group committer (one fsync serves both);
//   4. hydration of the DM relay from the whole chain (§7.7), then live hydration from every appended/ingested batch;
//   5. NATS (embedded server with JetStream in <data>/nats, optionally a leaf of a hub; or --nats URL);
//   6. event publisher, then the micro-service (from here on commands are answered).
// stop() reverses it: stop taking commands, finish in-flight commands and hydrations, flush, close, stop the server.
//
// Issue 5 (replication) hangs further actors off this root: it exposes chain, mailboxes, db, nc, settings, config,
// nodeId, identity and logger, and `onStop(fn)` to join the graceful shutdown.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { pino, type Logger } from 'pino';
import { Subject, type Subscription } from 'rxjs';
import { ChainActor } from '../actors/chain-actor.js';
import { openChainAt } from '../actors/open-chain.js';
import { MailboxRegistry } from '../actors/mailbox-registry.js';
import { type NodeStatus } from '../bus/commands.js';
import { connectBus } from '../bus/connect.js';
import type { BusCredentials } from '../bus/credentials.js';
import { startEmbeddedServer } from '../bus/embedded.js';
import type { NatsServerHandle } from '../bus/nats-server.js';
import { INFONET_VERSION, startBusService, startEventPublisher, type BusService, type EventPublisher } from '../bus/service.js';
import { systemClock, type Clock } from '../protocol/clock.js';
import { ErrorCodes, InfonetError } from '../protocol/errors.js';
import type { ChainEvent } from '../protocol/event.js';
import { generateIdentity, identityFromKeyFile, identityToKeyFile, type Identity } from '../protocol/identity.js';
import type { Settings } from '../protocol/settings.js';
import type { Db } from '../store/db.js';
import { MailboxStore } from '../store/mailbox-store.js';
import { resolveConfig, type NodeConfig } from './config.js';
import { startReplication } from './replication.js';
import { startInbound, type Inbound, type StartInboundOptions } from './inbound.js';
import { startLocalApi, type LocalApi } from '../api/local-api.js';
import { registerMetricsRoute } from '../api/metrics-route.js';
import { registerConsoleRoutes } from '../api/console-routes.js';
import { createNodeMetrics, type NodeMetrics } from './metrics.js';
import { startMlsCommands } from '../bus/mls-commands.js';
import { mlsHostOf } from '../mls/host.js';
import { mlsHandlers } from '../mls/mls-handlers.js';
import { MlsOwner } from '../mls/mls-owner.js';
import { MlsStore } from '../store/mls-store.js';
import type { Replicator } from '../actors/replication-actor.js';
import type { TransportSet } from '../transports/transport.js';
import { buildPeerTransports } from './peer-transports.js';
import { peerTransportKinds, startNodeOnion, type OnionNode } from '../transports/onion/onion-node.js';
import { startNodeRns } from '../transports/rns/rns-node.js';
import type { RnsService } from '../transports/rns/rns-service.js';
import { parsePeerList } from '../protocol/peer-url.js';

export const NODE_KEY_FILE = 'node.key.json';

export interface InfonetNodeOptions {
  dataDir: string;
  /** Join this NATS server instead of starting an embedded one. */
  natsUrl?: string;
  /** Leaf remote(s) for the embedded server. */
  leafRemote?: string | string[];
  /** Full configuration (defaults from resolveConfig({env: {}}) merged with dataDir/natsUrl/leafRemote). */
  config?: NodeConfig;
  logger?: Logger;
  /** Use this identity instead of <data>/node.key.json (tests). */
  identity?: Identity;
  clock?: Clock;
  /** Options of the inbound side (peer HTTP listener, bus peer endpoints, sync), e.g. rate-limit overrides. */
  inbound?: StartInboundOptions;
}

/** Loads <data>/node.key.json, creating it (mode 600, atomically) at first start. */
export function loadOrCreateNodeKey(dataDir: string): Identity {
  const file = join(dataDir, NODE_KEY_FILE);
  if (existsSync(file)) {
    try {
      return identityFromKeyFile(JSON.parse(readFileSync(file, 'utf8')));
    } catch (e) {
      throw new InfonetError(ErrorCodes.STORE_CORRUPT, `node key file ${file} is unreadable: ${(e as Error).message}`);
    }
  }
  const id = generateIdentity();
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(identityToKeyFile(id), null, 2) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return id;
}

export function defaultLogger(level = 'info'): Logger {
  return pino({ level, base: { app: 'infonet' } }, pino.destination({ dest: 2, sync: true }));
}

export class InfonetNode {
  private stopping?: Promise<void>;
  private readonly hydrations = new Set<Promise<unknown>>();
  private readonly stopHooks: Array<() => Promise<void> | void> = [];
  private hydrationSub?: Subscription;
  private service?: BusService;
  private publisher?: EventPublisher;
  readonly startedAt: number;

  private constructor(
    readonly dataDir: string,
    readonly config: NodeConfig,
    readonly settings: Settings,
    readonly identity: Identity,
    readonly db: Db,
    readonly chain: ChainActor,
    readonly mailboxes: MailboxRegistry,
    readonly logger: Logger,
    readonly clock: Clock,
  ) {
    this.startedAt = clock();
  }

  /** NATS connection of the node (set once start() resolves). */
  nc!: NatsConnection;
  /** URL clients use to reach the node. */
  natsUrl = '';
  /** The embedded server, when the node runs one. */
  natsServer?: NatsServerHandle;
  /** Outbound DM replication (issue 5): outbox, peer links, pull-from-peers. */
  replication?: Replicator;
  /** Inbound replication (issue 5): peer HTTP listener, bus peer endpoints, sync scheduler. */
  inbound?: Inbound;
  /** The node's one MLS owner (issue 12, mls/mls-owner.ts) and its local HTTP API (api/local-api.ts). */
  mls?: MlsOwner;
  api?: LocalApi;
  /** Prometheus registry of this node (issue 13, node/metrics.ts), served at GET /metrics on the local API. */
  metrics?: NodeMetrics;
  /** The outbound peer port shared by replication and sync (node/peer-transports.ts). */
  peers?: TransportSet;
  /** Onion transport (issue 10, docs/onion.md): tor, the node's own onion service, outbound over SOCKS. */
  onion?: OnionNode;
  /** RNS transport (issue 11, docs/rns.md): the Reticulum endpoint, its TCP interfaces and the rns:// peer port. */
  rns?: RnsService;
  /**
   * Peer URLs of successful contacts: a push/ack/pull answered 200, an inbound request that passed HMAC auth
   * (issue 8: a healed peer's sync ladder is cleared on contact — the sync scheduler subscribes here).
   */
  readonly peerContact$ = new Subject<string>();
  private readonly reportPeerContact = (url: string): void => this.peerContact$.next(url);

  get nodeId(): string {
    return this.identity.nodeId;
  }

  static async start(opts: InfonetNodeOptions): Promise<InfonetNode> {
    const dataDir = resolve(opts.dataDir);
    const base = opts.config ?? resolveConfig({ env: {} });
    const leaf = opts.leafRemote === undefined ? base.leaf : Array.isArray(opts.leafRemote) ? opts.leafRemote : [opts.leafRemote];
    const config: NodeConfig = { ...base, data: dataDir, nats: opts.natsUrl ?? base.nats, leaf };
    const logger = opts.logger ?? defaultLogger(config.logLevel);
    const clock = opts.clock ?? systemClock;
    const settings = config.settings;

    // Takes the directory lock ("data directory in use") and verifies the chain store (§3.2).
    const opened = await openChainAt(dataDir, { settings: settings.chain, clock, quarantineCorrupt: config.quarantineCorrupt });
    const db = opened.db;
    const chain: ChainActor = opened.chain;
    if (opened.quarantined) logger.warn({ moved_to: opened.quarantined }, 'corrupt store quarantined; starting from genesis (sync rebuilds the chain)');
    let mailboxes: MailboxRegistry | undefined;
    try {
      const identity = opts.identity ?? loadOrCreateNodeKey(dataDir);
      const store = new MailboxStore(db, chain.ledger.store.committer);
      mailboxes = await MailboxRegistry.open(store, {
        settings: settings.relay, spoolTtlS: settings.chain.spool.ttlS, clock, localRecipientId: identity.nodeId,
      });
      mailboxes.startHousekeeping();
      const node = new InfonetNode(dataDir, config, settings, identity, db, chain, mailboxes, logger.child({ node: identity.nodeId }), clock);
      await node.boot(opts.inbound);
      return node;
    } catch (e) {
      await mailboxes?.close().catch(() => undefined);
      await chain.stop().catch(() => undefined);
      await db.close().catch(() => undefined);
      throw e;
    }
  }

  private async boot(inbound: StartInboundOptions = {}): Promise<void> {
    const log = this.logger;
    // §7.7: DMs already in the chain reach the relay (each chain event at most once, ever: the registry remembers).
    this.hydrationSub = this.chain.events$.subscribe((n) => {
      const events = n.kind === 'appended' ? [n.event] : n.kind === 'ingested' ? n.events : [];
      this.hydrate(events.filter((e) => e.event_type === 'dm_message'));
    });
    const hydrated = await this.hydrateWholeChain();
    log.info({ height: this.chain.length, head: this.chain.head, hydrated, previousRun: this.chain.previousRun }, 'chain open');

    let serviceCreds: BusCredentials | undefined;
    try {
      if (this.config.nats) {
        this.natsUrl = this.config.nats;
      } else {
        const natsDir = join(this.dataDir, 'nats');
        mkdirSync(natsDir, { recursive: true });
        // Authenticated (docs/bus-auth.md): credentials generated into <data>/nats/auth; the node uses its service one.
        const embedded = await startEmbeddedServer({
          natsDir, nodeId: this.nodeId, port: this.config.natsPort, leaf: this.config.leaf, leafCreds: this.config.leafCreds || undefined,
        });
        this.natsServer = embedded.server;
        serviceCreds = embedded.creds.roles.service;
        this.natsUrl = this.natsServer.clientUrl;
        log.info({ url: this.natsUrl, leaf: this.config.leaf, pid: this.natsServer.pid }, 'embedded nats-server started');
        void this.natsServer.exited.then((x) => {
          if (!this.stopping) log.error({ ...x, tail: this.natsServer?.logTail().slice(-2000) }, 'embedded nats-server exited');
        });
      }
      this.nc = await connectBus(this.natsUrl, {
        creds: serviceCreds ?? (this.config.creds || undefined), name: `infonet-node ${this.nodeId}`, options: { maxReconnectAttempts: -1 },
      });
      // Issue 10 (docs/onion.md): before the peer port, so the node's own onion URL is the one it signs as.
      const onion = (this.onion = await startNodeOnion({ dataDir: this.dataDir, config: this.config, settings: this.settings, logger: log }));
      if (onion) this.onStop(() => onion.stop());
      // Issue 11 (docs/rns.md): likewise before the peer port; rns:// is advertised when no other URL is.
      const rns = (this.rns = await startNodeRns({ dataDir: this.dataDir, config: this.config, settings: this.settings, logger: log }));
      if (rns) this.onStop(() => rns.stop());
      this.peers = buildPeerTransports({ nodeId: this.nodeId, clock: this.clock, allowClearnet: this.settings.peers.allowClearnetSync, nc: this.nc, extra: [...(onion ? [onion.transport] : []), ...(rns ? [rns.peer] : [])] });
      const peers = this.peers;
      // Issue 13: every peer call's round trip feeds the latency histograms and the console's chart (node/metrics.ts).
      peers.observe((req, seconds, outcome) => this.metrics?.observePeerCall(req, seconds, outcome));
      // Registered first, so it runs after replication and sync have stopped (stop hooks run in reverse).
      this.onStop(() => peers.close());
      const peerHost = { ...this.hostView(), peers, onPeerContact: this.reportPeerContact };
      this.replication = await startReplication(peerHost);
      this.publisher = startEventPublisher(this.nc, this.nodeId, this.chain, this.mailboxes, log);
      this.service = await startBusService(this.nc, { nodeId: this.nodeId, chain: this.chain, mailboxes: this.mailboxes, status: () => this.status(),
        observe: (command, seconds, outcome) => this.metrics?.observeCommand(command, seconds, outcome), beforeReply: () => this.publisher?.flush() }, log);
      // Issue 12: MLS gates and DM sessions — one owner, served on the bus and on the local API (docs/mls.md). Needs only the chain,
      // the mailboxes and the bus, so it is up before the peer listener, onion service and sync (which may take long).
      const mls = (this.mls = await MlsOwner.open(MlsStore.open(this.db, this.chain.ledger.store.committer, this.dataDir), mlsHostOf(this.chain, this.identity, this.mailboxes, this.clock)));
      const mlsBus = startMlsCommands(this.nc, this.nodeId, mlsHandlers(mls), log, () => this.publisher?.flush());
      const metrics = (this.metrics = createNodeMetrics({ status: () => this.status(), chainNotices$: this.chain.events$ }));
      this.onStop(() => metrics.stop());
      this.api = await startLocalApi({
        dataDir: this.dataDir, handlers: mlsHandlers(mls),
        routes: (app, authorized) => {
          registerMetricsRoute(app, authorized, { ...metrics, publicLoopback: this.config.metricsPublicLoopback });
          registerConsoleRoutes(app, authorized, {
            status: () => this.status(), changes$: this.chain.events$, dataDir: this.dataDir,
            chain: { length: () => this.chain.length, readRange: (f, n) => this.chain.readRange(f, n) }, gateCommands: mlsHandlers(mls),
          });
        },
      });
      this.onStop(async () => { await this.api?.stop(); await mlsBus.stop(); await mls.close(); });
      this.inbound = await startInbound({ ...peerHost, identity: this.identity }, inbound);
      await onion?.serve(this.inbound.app);
      rns?.peer.listen(this.inbound.app);
      // Issue 8: a successful contact with a peer clears its sync cooldown and ladder (engineer E, docs/sync.md).
      const sync = this.inbound.sync;
      this.peerContact$.subscribe((url) => sync.contact(url));
    } catch (e) {
      await this.shutdown('start failed');
      throw e;
    }
    log.info({ nats: this.natsUrl }, 'node ready');
  }

  /** The node as the replication/inbound wiring sees it (getters resolved now; onStop bound). */
  private hostView() {
    return {
      nodeId: this.nodeId, db: this.db, chain: this.chain, mailboxes: this.mailboxes, settings: this.settings,
      config: this.config, clock: this.clock, logger: this.logger, nc: this.nc,
      onStop: (fn: () => Promise<void> | void) => this.onStop(fn),
    };
  }

  private hydrate(events: ChainEvent[]): void {
    if (events.length === 0) return;
    const p = this.mailboxes
      .hydrateFromChain(events, (id) => this.chain.heightOf(id) !== undefined)
      .catch((e: unknown) => this.logger.error({ err: (e as Error)?.message }, 'DM hydration failed'));
    this.hydrations.add(p);
    void p.finally(() => this.hydrations.delete(p));
  }

  private async hydrateWholeChain(): Promise<number> {
    let n = 0;
    const page = 1000;
    for (let from = 0; from < this.chain.length; from += page) {
      const dms = (await this.chain.readRange(from, page)).filter((e) => e.event_type === 'dm_message');
      if (dms.length) n += await this.mailboxes.hydrateFromChain(dms, (id) => this.chain.heightOf(id) !== undefined);
    }
    return n;
  }

  async status(): Promise<NodeStatus> {
    const prev = this.chain.previousRun;
    return {
      node_id: this.nodeId,
      version: INFONET_VERSION,
      height: this.chain.length,
      head: this.chain.head,
      started_at: this.startedAt,
      uptime_s: Math.max(0, Math.round((this.clock() - this.startedAt) * 1000) / 1000),
      // Stored count from the store's in-memory key set (a full key scan only before it is loaded).
      mailboxes: {
        stored: this.mailboxes.store.knownCount ?? await this.mailboxes.store.mailboxCount(), live: this.mailboxes.liveCount,
        stats: this.mailboxes.stats.snapshot(this.clock()),
      },
      ...(this.metrics ? { latency: this.metrics.latency() } : {}),
      previous_run: prev ? { clean_stop: prev.cleanStop, height: prev.length, head: prev.head } : null,
      nats: { url: this.natsUrl, embedded: !!this.natsServer, leaf: this.config.leaf },
      ...(this.replication ? { replication: this.replication.status() } : {}),
      ...(this.inbound ? { inbound: this.inbound.status() } : {}),
      transports: {
        peers: peerTransportKinds(parsePeerList(this.settings.peers.relayPeers), this.settings.peers.allowClearnetSync),
        ...(this.onion ? { onion: this.onion.status() } : {}),
        ...(this.rns ? { rns: this.rns.status() } : {}),
      },
    };
  }

  /** Registers work to run during stop(), after commands stopped and before the store closes (issue 5 actors). */
  onStop(fn: () => Promise<void> | void): void {
    this.stopHooks.push(fn);
  }

  /** Graceful stop: no new commands, in-flight commands and hydrations finish, everything flushed and closed. */
  stop(reason = 'stop'): Promise<void> {
    return this.shutdown(reason);
  }

  private shutdown(reason: string): Promise<void> {
    this.stopping ??= (async () => {
      const log = this.logger;
      log.info({ reason }, 'stopping');
      await this.service?.stop();
      for (const h of this.stopHooks.reverse()) await Promise.resolve(h()).catch((e: unknown) => log.error({ err: String(e) }, 'stop hook failed'));
      while (this.hydrations.size) await Promise.allSettled([...this.hydrations]);
      this.hydrationSub?.unsubscribe();
      await this.mailboxes.close().catch((e: unknown) => log.error({ err: String(e) }, 'mailbox close failed'));
      await this.chain.stop().catch((e: unknown) => log.error({ err: String(e) }, 'chain stop failed'));
      this.publisher?.stop();
      this.peerContact$.complete();
      if (this.nc && !this.nc.isClosed()) {
        await this.nc.flush().catch(() => undefined);
        await this.nc.close().catch(() => undefined);
      }
      await this.db.close().catch((e: unknown) => log.error({ err: String(e) }, 'db close failed'));
      await this.natsServer?.stop();
      log.info({ height: this.chain.length, head: this.chain.head }, 'stopped');
    })();
    return this.stopping;
  }
}
