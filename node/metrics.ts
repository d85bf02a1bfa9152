// One prom-client registry per node (issue 13, docs/metrics.md). Counters that the node already keeps (replication,
// sync) are read from node status at scrape time rather than counted twice; chain appends/ingests/rejections are
// counted here from the chain actor's notices. A registry per node (never prom-client's global one) so two nodes in
// one process (tests, harness) never mix their numbers.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Observable, Subscription } from 'rxjs';
import type { NodeStatus } from '../bus/commands.js';
import type { ChainNotice } from '../actors/chain-actor.js';

export interface MetricsSource {
  status(): Promise<NodeStatus>;
  chainNotices$: Observable<ChainNotice>;
}

export interface NodeMetrics {
  registry: Registry;
  contentType: string;
  text(): Promise<string>;
  stop(): void;
}

/** Peer URL scheme → transport label (http, bus, onion, rns); never the URL itself (bounded label set). */
export function transportOf(url: string): string {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase() ?? 'unknown';
  if (scheme === 'https') return 'http';
  return url.includes('.onion') ? 'onion' : scheme;
}

/** Link states a replication link can report; one gauge series per state so a dashboard can sum them. */
const LINK_STATES = ['ready', 'sending', 'backoff', 'cooldown', 'stopped'] as const;

export function createNodeMetrics(src: MetricsSource): NodeMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'infonet_' });

  const appends = new Counter({ name: 'infonet_chain_appends_total', help: 'Events appended on this node', registers: [registry] });
  const ingested = new Counter({ name: 'infonet_chain_ingested_total', help: 'Events ingested from peers (new ones)', registers: [registry] });
  const duplicates = new Counter({ name: 'infonet_chain_ingest_duplicates_total', help: 'Ingested events already held', registers: [registry] });
  const rejections = new Counter({
    name: 'infonet_chain_rejections_total', help: 'Appends/ingests refused, by error code', labelNames: ['reason'], registers: [registry],
  });
  const forks = new Counter({ name: 'infonet_chain_forks_total', help: 'Fork resolutions that replaced the local tail', registers: [registry] });
  const sub: Subscription = src.chainNotices$.subscribe((n) => {
    if (n.kind === 'appended') appends.inc();
    else if (n.kind === 'ingested') {
      ingested.inc(n.events.length);
      if (n.duplicates) duplicates.inc(n.duplicates);
      for (const r of n.rejected) rejections.inc({ reason: String((r as { code?: string }).code ?? 'invalid') });
    } else if (n.kind === 'rejected') rejections.inc({ reason: n.code });
    else if (n.kind === 'forked') forks.inc();
  });

  // Everything below is read from one status() per scrape (the collect hooks share it).
  let pending: Promise<NodeStatus> | undefined;
  const status = (): Promise<NodeStatus> => (pending ??= src.status().finally(() => setImmediate(() => (pending = undefined))));

  const gauge = (name: string, help: string, read: (s: NodeStatus, g: Gauge) => void, labelNames: string[] = []): void => {
    new Gauge({
      name, help, labelNames, registers: [registry],
      async collect() {
        this.reset();
        read(await status(), this);
      },
    });
  };
  gauge('infonet_chain_height', 'Events in the local chain', (s, g) => g.set(s.height));
  gauge('infonet_uptime_seconds', 'Seconds since the node started', (s, g) => g.set(s.uptime_s));
  gauge('infonet_mailboxes', 'Mailboxes by state (stored in LevelDB, live in memory)', (s, g) => {
    g.set({ state: 'stored' }, s.mailboxes.stored);
    g.set({ state: 'live' }, s.mailboxes.live);
  }, ['state']);
  gauge('infonet_replication_outbox_depth', 'Envelopes/acks queued per peer transport', (s, g) => {
    for (const p of s.replication?.peers ?? []) g.inc({ transport: transportOf(p.url) }, p.queued);
  }, ['transport']);
  gauge('infonet_replication_links', 'Replication links by transport and state', (s, g) => {
    for (const p of s.replication?.peers ?? []) {
      for (const st of LINK_STATES) g.inc({ transport: transportOf(p.url), state: st }, 0);
      g.inc({ transport: transportOf(p.url), state: String(p.state) }, 1);
    }
  }, ['transport', 'state']);
  // Node-kept counters (actors/replication-metrics.ts, actors/sync-actor.ts) exposed as gauges of running totals:
  // prom-client counters cannot be set, and these already count from the node's start.
  gauge('infonet_replication_counter', 'Replication counters since start (dm_replication_push_ok/rejected/error, acks, pulls…)', (s, g) => {
    for (const [name, v] of Object.entries(s.replication?.metrics ?? {})) g.set({ name }, Number(v));
  }, ['name']);
  gauge('infonet_sync_counter', 'Sync scheduler counters since start (forks, partitions, contact heals, kept aside…)', (s, g) => {
    const m = (s.inbound?.sync as { metrics?: Record<string, unknown> } | undefined)?.metrics ?? {};
    for (const [name, v] of Object.entries(m)) if (typeof v === 'number') g.set({ name }, v);
  }, ['name']);
  gauge('infonet_sync_consecutive_failures', 'Sync cycles failed in a row', (s, g) => {
    g.set(Number((s.inbound?.sync as { consecutive_failures?: number } | undefined)?.consecutive_failures ?? 0));
  });

  return {
    registry,
    contentType: registry.contentType,
    text: () => registry.metrics(),
    stop: () => sub.unsubscribe(),
  };
}
