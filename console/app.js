// infonet operator console (issue 13, docs/console.md): Preact + htm as plain ES modules, no build step. One
// EventSource on /console-api/events carries the node's status whenever it changes; the page never polls.
import { h, render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';
import uPlot from 'uplot';
import { Gates } from './gates.js';

const html = htm.bind(h);

const PAGES = [
  { id: 'overview', title: 'Overview' },
  { id: 'gates', title: 'Gates' },
  { id: 'chain', title: 'Chain' },
  { id: 'mailboxes', title: 'Mailboxes' },
  { id: 'peers', title: 'Peers' },
];

function Mailboxes({ s }) {
  const mb = s.mailboxes || {};
  const m = (s.replication && s.replication.metrics) || {};
  return html`<section aria-labelledby="h-mailboxes">
    <h2 id="h-mailboxes">Mailboxes</h2>
    <p>Counts only: never contents or recipient ids.</p>
    <table data-testid="mailboxes"><caption>Mailboxes by state</caption>
      <thead><tr><th scope="col">State</th><th scope="col">Count</th></tr></thead>
      <tbody><tr><td>stored (LevelDB)</td><td>${mb.stored ?? '—'}</td></tr><tr><td>live (in memory)</td><td>${mb.live ?? '—'}</td></tr></tbody></table>
    <table><caption>Replication of deposited DMs</caption>
      <thead><tr><th scope="col">Counter</th><th scope="col">Value</th></tr></thead>
      <tbody>${['dm_replication_enqueued', 'dm_replication_push_ok', 'dm_ack_push_ok', 'dm_pull_envelopes'].map((k) => html`<tr><td>${k}</td><td>${m[k] ?? 0}</td></tr>`)}</tbody></table>
  </section>`;
}

// Re-fetches `path` whenever the pushed status changes (height or uptime mark a new push): driven by SSE, not a timer.
function useFetchOnPush(path, s) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let live = true;
    fetch(path, { credentials: 'same-origin' })
      .then((r) => r.json())
      .then((b) => { if (!live) return; if (b.ok) { setData(b.result); setError(null); } else setError((b.error && b.error.reason) || 'error'); })
      .catch((e) => live && setError(String(e)));
    return () => { live = false; };
  }, [path, s && s.height, s && s.uptime_s]);
  return { data, error };
}

function Chain({ s }) {
  const [before, setBefore] = useState(null);
  const path = '/console-api/chain' + (before === null ? '' : '?before=' + before);
  const { data, error } = useFetchOnPush(path, before === null ? s : null);
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
const samples = { t: [], height: [], deposits: [], pushOk: [] };
let lastPushOk = null;
function recordSample(s) {
  const m = (s.replication && s.replication.metrics) || {};
  const ok = m.dm_replication_push_ok ?? 0;
  const now = Date.now() / 1000;
  samples.t.push(now);
  samples.height.push(s.height ?? null);
  samples.deposits.push(s.mailboxes ? s.mailboxes.stored + s.mailboxes.live : null);
  samples.pushOk.push(lastPushOk === null ? 0 : Math.max(0, ok - lastPushOk));
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
