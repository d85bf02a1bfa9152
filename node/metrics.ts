// One prom-client registry per node (issue 13, docs/metrics.md). Counters that the node already keeps (replication,
// sync, mailbox stats) are read from node status at scrape time rather than counted twice; chain appends/ingests/
// rejections are counted here from the chain actor's notices; bus command and peer call latencies are observed here
// (hooks in bus/service.ts and transports/transport.ts). A registry per node (never prom-client's global one) so two
// nodes in one process (tests, harness) never mix their numbers.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Observable, Subscription } from 'rxjs';
import type { CommandName, NodeStatus } from '../bus/commands.js';
import type { ChainNotice } from '../actors/chain-actor.js';
import { transportLabel } from '../actors/replication-metrics.js';
import type { PeerCallRequest } from '../ports/peer.js';
import type { LatencyStatus, LatencySummary } from '../ports/status.js';

export interface MetricsSource {
  status(): Promise<NodeStatus>;
  chainNotices$: Observable<ChainNotice>;
}

export interface NodeMetrics {
  registry: Registry;
  contentType: string;
  text(): Promise<string>;
  /** A bus command was answered (bus/service.ts ServiceTarget.observe). */
  observeCommand(command: CommandName, seconds: number, outcome: 'ok' | 'rejected' | 'error'): void;
  /** A call to a peer ended (transports/transport.ts TransportSet.observe). */
  observePeerCall(req: Pick<PeerCallRequest, 'peer' | 'route'>, seconds: number, outcome: number | 'error'): void;
  /** Replication push round trips of the last LATENCY_WINDOW_S seconds per transport (node status, console chart). */
  latency(): LatencyStatus;
  stop(): void;
}

/** Seconds of push round trips that node status summarises (the console samples it every few seconds). */
export const LATENCY_WINDOW_S = 10;
/** Round trips kept for that summary (a ring: under heavy load the window holds the newest ones). */
const LATENCY_RING = 4096;
const TRANSPORTS = ['http', 'bus', 'onion', 'rns', 'other'] as const;

/** Replication push round trips: a ring of (time, transport, seconds), summarised over the last window. */
class PushLatency {
  private readonly at = new Float64Array(LATENCY_RING);
  private readonly secs = new Float64Array(LATENCY_RING);
  private readonly kind = new Uint8Array(LATENCY_RING);
  private next = 0;
  private size = 0;

  add(transport: string, seconds: number): void {
    const k = TRANSPORTS.indexOf(transport as (typeof TRANSPORTS)[number]);
    this.at[this.next] = performance.now();
    this.secs[this.next] = seconds;
    this.kind[this.next] = k < 0 ? TRANSPORTS.length - 1 : k;
    this.next = (this.next + 1) % LATENCY_RING;
    this.size = Math.min(LATENCY_RING, this.size + 1);
  }

  summary(): LatencyStatus {
    const since = performance.now() - LATENCY_WINDOW_S * 1000;
    const by = new Map<number, number[]>();
    const all: number[] = [];
    for (let i = 0; i < this.size; i++) {
      if (this.at[i] < since) continue;
      let l = by.get(this.kind[i]);
      if (!l) by.set(this.kind[i], (l = []));
      l.push(this.secs[i] * 1000);
      all.push(this.secs[i] * 1000);
    }
    const out: Record<string, LatencySummary> = {};
    for (const [k, l] of by) out[TRANSPORTS[k]] = summarise(l);
    return { window_s: LATENCY_WINDOW_S, replication_push: out, replication_push_all: all.length ? summarise(all) : null };
  }
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

function summarise(ms: number[]): LatencySummary {
  ms.sort((a, b) => a - b);
  const q = (p: number): number => round3(ms[Math.min(ms.length - 1, Math.floor(p * ms.length))]);
  return { count: ms.length, p50_ms: q(0.5), p95_ms: q(0.95), max_ms: round3(ms[ms.length - 1]) };
}

/** Push/ack outcomes split per transport (actors/replication-metrics.ts counter names → kind + outcome labels). */
const PUSH_OUTCOMES: Array<[counter: string, kind: string, outcome: string]> = [
  ['dm_replication_push_ok', 'envelope', 'ok'], ['dm_replication_push_rejected', 'envelope', 'rejected'],
  ['dm_replication_push_error', 'envelope', 'error'], ['dm_replication_push_rate_limited', 'envelope', 'rate_limited'],
  ['dm_replication_push_expired', 'envelope', 'expired'],
  ['dm_ack_push_ok', 'ack', 'ok'], ['dm_ack_push_rejected', 'ack', 'rejected'], ['dm_ack_push_error', 'ack', 'error'],
  ['dm_ack_push_expired', 'ack', 'expired'],
];

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

  // Bus commands: receipt → reply, per command subject and outcome. Buckets from 0.5 ms (a status) to 10 s (a deposit
  // waiting behind a long fsync queue).
  const commandSeconds = new Histogram({
    name: 'infonet_bus_command_duration_seconds', help: 'Bus command handling time, receipt to reply, by command and outcome',
    labelNames: ['command', 'outcome'], buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10], registers: [registry],
  });
  const peerSeconds = new Histogram({
    name: 'infonet_peer_request_duration_seconds', help: 'Round trip of calls to peers, by transport, peer route and outcome (HTTP-like status class or error)',
    labelNames: ['transport', 'route', 'outcome'], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry],
  });
  const pushLatency = new PushLatency();

  // A gauge or counter whose value is set from node status at each scrape (reset first: series may disappear).
  type Collected<M> = { name: string; help: string; labelNames: string[]; registers: Registry[]; collect(this: M): Promise<void> };
  const fromStatus = <M extends Gauge | Counter>(Kind: new (c: Collected<M>) => M) =>
    (name: string, help: string, read: (s: NodeStatus, m: M) => void, labelNames: string[] = []): void => {
      new Kind({
        name, help, labelNames, registers: [registry],
        async collect(this: M) {
          this.reset();
          read(await status(), this);
        },
      });
    };
  const gauge = fromStatus<Gauge>(Gauge);
  gauge('infonet_chain_height', 'Events in the local chain', (s, g) => g.set(s.height));
  gauge('infonet_uptime_seconds', 'Seconds since the node started', (s, g) => g.set(s.uptime_s));
  gauge('infonet_mailboxes', 'Mailboxes by state (stored in LevelDB, live in memory)', (s, g) => {
    g.set({ state: 'stored' }, s.mailboxes.stored);
    g.set({ state: 'live' }, s.mailboxes.live);
  }, ['state']);
  // Mailbox stats (actors/mailbox-stats.ts): absent until the stored mailboxes were counted after start.
  gauge('infonet_mailbox_messages', 'Mailbox messages by state (pending per delivery class; claimed = claim tombstones, class "any")', (s, g) => {
    const st = s.mailboxes.stats;
    if (!st?.counted) return;
    for (const [cls, n] of Object.entries(st.pending)) g.set({ state: 'pending', class: cls }, n);
    g.set({ state: 'claimed', class: 'any' }, st.claimed);
  }, ['state', 'class']);
  gauge('infonet_mailboxes_with_pending', 'Mailboxes holding at least one pending message, by delivery class', (s, g) => {
    const st = s.mailboxes.stats;
    if (st?.counted) for (const [cls, n] of Object.entries(st.with_pending)) g.set({ class: cls }, n);
  }, ['class']);
  gauge('infonet_mailbox_oldest_pending_age_seconds', 'Age of the oldest pending mailbox message (0 when none is pending)', (s, g) => {
    const st = s.mailboxes.stats;
    if (st?.counted) g.set(st.oldest_pending_age_s ?? 0);
  });
  const counter = fromStatus<Counter>(Counter);
  counter('infonet_mailbox_deposits_total', 'Messages stored in mailboxes since start, by origin (local deposit, chain hydration, peer replica)', (s, c) => {
    for (const [origin, n] of Object.entries(s.mailboxes.stats?.deposits ?? {})) c.inc({ origin }, n);
  }, ['origin']);
  counter('infonet_mailbox_polls_total', 'Mailbox polls answered since start', (s, c) => c.inc(s.mailboxes.stats?.polls ?? 0));
  counter('infonet_mailbox_claims_total', 'Messages removed by polls and selective claims since start', (s, c) => c.inc(s.mailboxes.stats?.claims ?? 0));
  counter('infonet_replication_push_total', 'Replication pushes to peers since start, by transport, item kind (envelope, ack) and outcome', (s, c) => {
    for (const [transport, m] of Object.entries(s.replication?.by_transport ?? {})) {
      for (const [name, kind, outcome] of PUSH_OUTCOMES) c.inc({ transport, kind, outcome }, m[name] ?? 0);
    }
  }, ['transport', 'kind', 'outcome']);
  gauge('infonet_replication_outbox_depth', 'Envelopes/acks queued per peer transport', (s, g) => {
    for (const p of s.replication?.peers ?? []) g.inc({ transport: transportLabel(p.url) }, p.queued);
  }, ['transport']);
  gauge('infonet_replication_links', 'Replication links by transport and state', (s, g) => {
    for (const p of s.replication?.peers ?? []) {
      for (const st of LINK_STATES) g.inc({ transport: transportLabel(p.url), state: st }, 0);
      g.inc({ transport: transportLabel(p.url), state: String(p.state) }, 1);
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
    observeCommand(command, seconds, outcome) {
      commandSeconds.observe({ command, outcome }, seconds);
    },
    observePeerCall(req, seconds, outcome) {
      const transport = transportLabel(req.peer);
      const o = outcome === 'error' ? 'error' : `${Math.floor(outcome / 100)}xx`;
      peerSeconds.observe({ transport, route: req.route, outcome: o }, seconds);
      if (outcome === 200 && req.route.startsWith('dm/replicate-envelope')) pushLatency.add(transport, seconds);
    },
    latency: () => pushLatency.summary(),
    stop: () => sub.unsubscribe(),
  };
}
