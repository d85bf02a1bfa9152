// infonet operator console (issue 13, docs/console.md): Preact + htm as plain ES modules, no build step. One
// EventSource on /console-api/events carries the node's status whenever it changes; the page never polls.
import { h, render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';
import uPlot from 'uplot';
import { Gates, useGet } from './gates.js';

const html = htm.bind(h);

const PAGES = [
  { id: 'overview', title: 'Overview' },
  { id: 'gates', title: 'Gates' },
  { id: 'chain', title: 'Chain' },
  { id: 'mailboxes', title: 'Mailboxes' },
  { id: 'peers', title: 'Peers' },
];

const CLASSES = ['request', 'shared', 'self', 'other'];
const fmtAge = (s) => (typeof s === 'number' ? (s < 120 ? `${s} s` : s < 7200 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`) : 'nothing pending');
const sum = (o) => Object.values(o || {}).reduce((n, v) => n + v, 0);

// Counts only (node status `mailboxes.stats`, actors/mailbox-stats.ts): never contents, keys or recipient ids.
function Mailboxes({ s }) {
  const mb = s.mailboxes || {};
  const st = mb.stats;
  const m = (s.replication && s.replication.metrics) || {};
  return html`<section aria-labelledby="h-mailboxes" data-testid="mailboxes">
    <h2 id="h-mailboxes">Mailboxes</h2>
    <p>Counts only: never contents or recipient ids.</p>
    ${st && !st.counted ? html`<p role="status">Counting the stored mailboxes after start…</p>` : ''}
    <dl class="facts">
      <dt>Oldest pending message</dt><dd data-testid="oldest-pending">${st ? fmtAge(st.oldest_pending_age_s) : '—'}</dd>
      <dt>Mailboxes stored (LevelDB)</dt><dd data-testid="mailboxes-stored">${mb.stored ?? '—'}</dd>
      <dt>Mailbox actors live (in memory)</dt><dd>${mb.live ?? '—'}</dd>
    </dl>
    ${st ? html`<table data-testid="mailbox-classes"><caption>Pending mail by delivery class</caption>
      <thead><tr><th scope="col">Class</th><th scope="col">Pending messages</th><th scope="col">Mailboxes with pending mail</th></tr></thead>
      <tbody>${CLASSES.map((c) => html`<tr data-class=${c}><th scope="row">${c}</th><td data-testid="pending">${st.pending[c] ?? 0}</td><td>${st.with_pending[c] ?? 0}</td></tr>`)}
        <tr><th scope="row">all</th><td data-testid="pending-all">${sum(st.pending)}</td><td>${sum(st.with_pending)}</td></tr></tbody></table>
    <table data-testid="mailbox-states"><caption>Messages by state</caption>
      <thead><tr><th scope="col">State</th><th scope="col">Count</th></tr></thead>
      <tbody><tr data-state="pending"><th scope="row">pending (waiting for the recipient)</th><td>${sum(st.pending)}</td></tr>
        <tr data-state="claimed"><th scope="row">claimed (tombstone kept until expiry)</th><td data-testid="claimed">${st.claimed}</td></tr></tbody></table>
    <table data-testid="mailbox-activity"><caption>Activity since start</caption>
      <thead><tr><th scope="col">Counter</th><th scope="col">Value</th></tr></thead>
      <tbody><tr><th scope="row">deposits (local)</th><td data-testid="deposits-local">${st.deposits.local}</td></tr>
        <tr><th scope="row">deposits (from the chain)</th><td>${st.deposits.chain}</td></tr>
        <tr><th scope="row">deposits (peer replicas)</th><td>${st.deposits.replica}</td></tr>
        <tr><th scope="row">polls</th><td data-testid="polls">${st.polls}</td></tr>
        <tr><th scope="row">messages claimed</th><td data-testid="claims">${st.claims}</td></tr></tbody></table>` : html`<p>No mailbox counts in this node's status.</p>`}
    <table><caption>Replication of deposited DMs</caption>
      <thead><tr><th scope="col">Counter</th><th scope="col">Value</th></tr></thead>
      <tbody>${['dm_replication_enqueued', 'dm_replication_push_ok', 'dm_ack_push_ok', 'dm_pull_envelopes'].map((k) => html`<tr><th scope="row">${k}</th><td>${m[k] ?? 0}</td></tr>`)}</tbody></table>
  </section>`;
}

function Chain({ s }) {
  const [before, setBefore] = useState(null);
  const path = '/console-api/chain' + (before === null ? '' : '?before=' + before);
  // The newest page follows the pushed height (not every push: uptime alone changes nothing here); an older page is fixed.
  const { data, error } = useGet(path, [before === null ? s.height : null]);
  const events = (data && data.events) || [];
  return html`<section aria-labelledby="h-chain">
    <h2 id="h-chain">Chain</h2>
    <p>Recent events, newest first. Only metadata is shown: type, author, time and payload size — never contents.</p>
    ${error ? html`<p role="alert">${error}</p>` : ''}
    <table data-testid="chain"><caption>Events ${data ? `${data.from}–${Math.max(data.from, data.before - 1)} of ${data.length}` : ''}</caption>
      <thead><tr><th scope="col">Height</th><th scope="col">Type</th><th scope="col">Author</th><th scope="col">Time</th><th scope="col">Size (bytes)</th></tr></thead>
      <tbody>${events.map((e) => html`<tr><td>${e.height}</td><td>${e.event_type}</td><td><code>${e.author}</code></td><td>${fmtTime(e.timestamp)}</td><td>${e.size}</td></tr>`)}</tbody></table>
    <p>
      <button type="button" disabled=${before === null} onClick=${() => setBefore(null)}>Newest</button>
      ${' '}<button type="button" disabled=${!data || data.from === 0} onClick=${() => setBefore(data.from)}>Older</button>
    </p>
  </section>`;
}

function pageFromHash() {
  const id = location.hash.replace(/^#\/?/, '');
  return PAGES.some((p) => p.id === id) ? id : 'overview';
}

// Chart history: one sample per pushed status (the node pushes on change and at least every few seconds), kept for
// the last CHART_WINDOW_S seconds. Replications are push-ok per interval (difference of the counter).
const CHART_WINDOW_S = 600;
const samples = { t: [], height: [], deposits: [], pushOk: [], p50: [], p95: [], max: [] };
let lastPushOk = null;
function recordSample(s) {
  const m = (s.replication && s.replication.metrics) || {};
  const ok = m.dm_replication_push_ok ?? 0;
  const now = Date.now() / 1000;
  samples.t.push(now);
  samples.height.push(s.height ?? null);
  samples.deposits.push(s.mailboxes ? s.mailboxes.stored + s.mailboxes.live : null);
  samples.pushOk.push(lastPushOk === null ? 0 : Math.max(0, ok - lastPushOk));
  // Replication push round trips answered in the node's last window (null = none: a gap in the line).
  const lat = s.latency && s.latency.replication_push_all;
  samples.p50.push(lat ? lat.p50_ms : null);
  samples.p95.push(lat ? lat.p95_ms : null);
  samples.max.push(lat ? lat.max_ms : null);
  lastPushOk = ok;
  while (samples.t.length && samples.t[0] < now - CHART_WINDOW_S) for (const k of Object.keys(samples)) samples[k].shift();
}

function Charts({ s }) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    plot.current = new uPlot({
      width: 720, height: 240,
      series: [{}, { label: 'Sync height', stroke: '#1f5fa8', width: 2, scale: 'h' },
        { label: 'Mailboxes (deposits)', stroke: '#2e7d32', width: 2 },
        { label: 'Replications (push ok / interval)', stroke: '#b3541e', width: 2, paths: uPlot.paths.stepped({ align: 1 }) }],
      axes: [{}, { scale: 'h', label: 'height' }, { side: 1, label: 'count' }],
      scales: { h: {} },
    }, [samples.t, samples.height, samples.deposits, samples.pushOk], box.current);
    return () => plot.current.destroy();
  }, []);
  useEffect(() => { plot.current && plot.current.setData([samples.t, samples.height, samples.deposits, samples.pushOk]); }, [s]);
  const last = samples.t.length - 1;
  return html`<figure class="charts">
    <div ref=${box} data-testid="charts" role="img"
      aria-label=${`Chart of the last ${CHART_WINDOW_S / 60} minutes: sync height ${samples.height[last] ?? '—'}, mailboxes ${samples.deposits[last] ?? '—'}, replications in the last interval ${samples.pushOk[last] ?? 0}`}></div>
    <figcaption>Sync height, mailboxes (deposits) and replications (push ok per interval) over the last ${CHART_WINDOW_S / 60} minutes, from the live status stream.</figcaption>
  </figure>`;
}

// Replication latency: push round trip (deposit's envelope sent → peer's answer) of the node's last window, per sample.
function LatencyChart({ s }) {
  const box = useRef(null);
  const plot = useRef(null);
  const data = () => [samples.t, samples.p50, samples.p95, samples.max];
  useEffect(() => {
    plot.current = new uPlot({
      width: 720, height: 200,
      series: [{}, { label: 'p50 ms', stroke: '#1f5fa8', width: 2, spanGaps: false },
        { label: 'p95 ms', stroke: '#b3541e', width: 2 }, { label: 'max ms', stroke: '#6a1b9a', width: 1, dash: [4, 4] }],
      axes: [{}, { label: 'ms' }],
      scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max ?? 1)] } },
    }, data(), box.current);
    return () => plot.current.destroy();
  }, []);
  useEffect(() => { plot.current && plot.current.setData(data()); }, [s]);
  const lat = s.latency || {};
  const now = lat.replication_push_all;
  const per = Object.entries(lat.replication_push || {}).map(([t, v]) => `${t} p95 ${v.p95_ms} ms (${v.count})`).join(', ');
  return html`<figure class="charts">
    <div ref=${box} data-testid="latency-chart" role="img"
      aria-label=${now ? `Replication push round trip over the last ${lat.window_s} s: p50 ${now.p50_ms} ms, p95 ${now.p95_ms} ms, max ${now.max_ms} ms${per ? '; ' + per : ''}` : 'Replication push round trip: no push answered in the last window'}></div>
    <figcaption>Replication latency: round trip of DM pushes to peers (p50, p95, max of the node's last ${lat.window_s ?? 10} s), one sample per status push, last ${CHART_WINDOW_S / 60} minutes.
      ${now ? html` Now: <span data-testid="latency-now">p50 ${now.p50_ms} ms, p95 ${now.p95_ms} ms</span>${per ? ` — ${per}` : ''}.` : ' No push answered in the last window.'}</figcaption>
  </figure>`;
}

function useLiveStatus() {
  const [state, setState] = useState({ status: null, connected: false });
  useEffect(() => {
    const es = new EventSource('/console-api/events');
    es.addEventListener('status', (e) => { const st = JSON.parse(e.data); recordSample(st); setState({ status: st, connected: true }); });
    es.onerror = () => setState((s) => ({ ...s, connected: false }));
    return () => es.close();
  }, []);
  return state;
}

const fmtTime = (s) => (typeof s === 'number' && s > 0 ? new Date(s * (s < 1e12 ? 1000 : 1)).toISOString().replace('T', ' ').slice(0, 19) + ' UTC' : '—');
const fmtUptime = (s) => {
  if (typeof s !== 'number') return '—';
  const d = Math.floor(s / 86400), hh = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
  return `${d ? d + 'd ' : ''}${hh}h ${m}m ${sec}s`;
};

function warningsOf(s) {
  const w = [];
  if (s.replication && s.replication.enabled === false) w.push(`replication disabled${s.replication.reason ? ': ' + s.replication.reason : ''}`);
  const onion = s.transports && s.transports.onion;
  if (onion && onion.bootstrapped === false) w.push('tor not bootstrapped yet');
  for (const p of (s.transports && s.transports.peers) || []) if (!p.allowed) w.push(`peer ${p.url} not allowed by policy (${p.transport})`);
  if (s.previous_run && s.previous_run.clean_stop === false) w.push('the previous run did not stop cleanly');
  return w;
}

function Overview({ s }) {
  const peersByTransport = {};
  for (const p of (s.transports && s.transports.peers) || []) (peersByTransport[p.transport] ||= []).push(p.url);
  const warnings = warningsOf(s);
  return html`<section aria-labelledby="h-overview">
    <h2 id="h-overview">Overview</h2>
    <dl class="facts">
      <dt>Node id</dt><dd data-testid="node-id"><code>${s.node_id}</code></dd>
      <dt>Version</dt><dd>${s.version}</dd>
      <dt>Height</dt><dd data-testid="height">${s.height}</dd>
      <dt>Head</dt><dd data-testid="head"><code>${s.head || '—'}</code></dd>
      <dt>Started</dt><dd>${fmtTime(s.started_at)}</dd>
      <dt>Uptime (at last update)</dt><dd>${fmtUptime(s.uptime_s)}</dd>
      <dt>Mailboxes</dt><dd>${s.mailboxes ? `${s.mailboxes.stored} stored, ${s.mailboxes.live} live` : '—'}</dd>
      <dt>Peer HTTP listener</dt><dd>${(s.inbound && s.inbound.http_url) || '—'}</dd>
      <dt>Bus</dt><dd>${s.nats ? `${s.nats.url}${s.nats.embedded ? ' (embedded)' : ''}` : '—'}</dd>
    </dl>
    <h3>Activity</h3>
    <${Charts} s=${s} />
    <h3>Replication latency</h3>
    <${LatencyChart} s=${s} />
    <h3>Peers by transport</h3>
    ${Object.keys(peersByTransport).length === 0
      ? html`<p>No peers configured.</p>`
      : html`<ul>${Object.entries(peersByTransport).map(([t, urls]) => html`<li><strong>${t}</strong>: ${urls.join(', ')}</li>`)}</ul>`}
    <h3>Warnings</h3>
    ${warnings.length ? html`<ul class="warnings" data-testid="warnings">${warnings.map((w) => html`<li>${w}</li>`)}</ul>` : html`<p>None.</p>`}
  </section>`;
}

function Peers({ s }) {
  const peers = (s.replication && s.replication.peers) || [];
  const m = (s.replication && s.replication.metrics) || {};
  const kinds = new Map(((s.transports && s.transports.peers) || []).map((p) => [p.url, p.transport]));
  return html`<section aria-labelledby="h-peers">
    <h2 id="h-peers">Peers</h2>
    ${peers.length === 0 ? html`<p>No replication peers.</p>` : html`<table data-testid="peers">
      <caption>Replication links (outbound)</caption>
      <thead><tr><th scope="col">Peer</th><th scope="col">Transport</th><th scope="col">Link state</th><th scope="col">Outbox depth</th>
        <th scope="col">Failures</th><th scope="col">Retry at</th><th scope="col">Last error</th></tr></thead>
      <tbody>${peers.map((p) => html`<tr data-peer=${p.url}>
        <td><code>${p.url}</code></td><td>${kinds.get(p.url) || '—'}</td><td class=${'state state-' + p.state} data-testid="link-state">${p.state}</td>
        <td>${p.queued}</td><td>${p.failures}</td><td>${p.retry_at ? fmtTime(p.retry_at) : '—'}</td><td>${p.last_error || '—'}</td></tr>`)}</tbody>
    </table>`}
    <h3>Counters</h3>
    <table><caption>Push, ack and pull counters since start</caption>
      <thead><tr><th scope="col">Counter</th><th scope="col">Value</th></tr></thead>
      <tbody>${Object.entries(m).map(([k, v]) => html`<tr><td>${k}</td><td>${v}</td></tr>`)}</tbody></table>
    <h3>Sync</h3>
    <p>${s.inbound && s.inbound.sync
      ? `last outcome ${s.inbound.sync.last_outcome || '—'}, consecutive failures ${s.inbound.sync.consecutive_failures}, ${s.inbound.sync.peers} peers`
      : 'no sync scheduler'}</p>
  </section>`;
}

function App() {
  const [page, setPage] = useState(pageFromHash());
  const { status, connected } = useLiveStatus();
  useEffect(() => {
    const on = () => setPage(pageFromHash());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  const Page = { peers: Peers, gates: Gates, chain: Chain, mailboxes: Mailboxes }[page] || Overview;
  return html`<header><p class="brand">infonet console</p>
      <nav aria-label="Pages"><ul>${PAGES.map((p) => html`<li><a href=${'#/' + p.id} aria-current=${p.id === page ? 'page' : undefined}>${p.title}</a></li>`)}</ul></nav>
      <p class="live" role="status" data-testid="live">${connected ? 'live' : 'connecting…'}</p></header>
    <main><h1>${PAGES.find((p) => p.id === page).title}${status ? html` — <code>${status.node_id}</code>` : ''}</h1>
      ${status ? html`<${Page} s=${status} fmtTime=${fmtTime} />` : html`<p>Waiting for the node…</p>`}</main>`;
}

render(html`<${App} />`, document.getElementById('app'));
