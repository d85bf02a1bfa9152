// The harness report as one self-contained HTML page (issue 13): the run's data and the chart code (uPlot) are
// inlined, so the file opens anywhere without a network or a server. Pure: the caller hands in uPlot's script and
// stylesheet text (harness/report-files.ts reads them from node_modules).
import { formatMs, percentile, reportOk, type ScenarioReport } from './report.js';

export interface ChartAssets {
  uplotJs: string;
  uplotCss: string;
}

/** Latency histogram buckets (ms, upper bounds) — log-ish so both loopback and Tor runs read well. */
const BUCKETS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000, 180_000];

export function latencyHistogram(latenciesMs: readonly number[]): Array<{ upToMs: number; count: number }> {
  const counts = BUCKETS_MS.map((upToMs) => ({ upToMs, count: 0 }));
  const overflow = { upToMs: Number.POSITIVE_INFINITY, count: 0 };
  for (const v of latenciesMs) {
    const b = counts.find((c) => v <= c.upToMs);
    if (b) b.count++;
    else overflow.count++;
  }
  const out = overflow.count ? [...counts, overflow] : counts;
  let last = out.length;
  while (last > 1 && out[last - 1].count === 0) last--;
  return out.slice(0, last);
}

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** JSON that is safe inside a <script> element (no `</script>`, no U+2028/9 surprises). */
const scriptJson = (v: unknown): string =>
  JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');

function table(caption: string, head: string[], rows: string[][]): string {
  if (rows.length === 0) return '';
  return `<table><caption>${esc(caption)}</caption><thead><tr>${head.map((h) => `<th scope="col">${esc(h)}</th>`).join('')}</tr></thead>`
    + `<tbody>${rows.map((r) => `<tr>${r.map((c, i) => (i === 0 ? `<th scope="row">${esc(c)}</th>` : `<td>${esc(c)}</td>`)).join('')}</tr>`).join('')}</tbody></table>`;
}

export function renderReportHtml(r: ScenarioReport, assets: ChartAssets, generatedAt = new Date()): string {
  const ok = reportOk(r);
  const lat = r.latenciesMs;
  const hist = latencyHistogram(lat);
  const deliveries = r.deliveries ?? [];
  const summary: string[][] = [
    ['scenario', `${r.scenario} (${r.nodes} nodes)`],
    ['result', ok ? 'PASS' : 'FAIL'],
    ['sent', String(r.counts.sent)],
    ['delivered', String(r.counts.delivered)],
    ['duplicates', String(r.counts.duplicates)],
    ['lost', String(r.counts.lost)],
    ['latency p50', `${formatMs(percentile(lat, 50))} (${r.latencyOf})`],
    ['latency p99', formatMs(percentile(lat, 99))],
    ['total time', formatMs(r.totalMs)],
    ...(r.notes ?? []).map(([k, v]) => [k, v]),
  ];
  const checks = r.checks.map((c) => [c.name, c.ok ? 'PASS' : 'FAIL', c.detail]);
  const transports = Object.entries(r.transportCounts ?? {}).map(([k, v]) => [k, String(v)]);
  const counterNames = [...new Set(Object.values(r.nodeCounters ?? {}).flatMap((c) => Object.keys(c)))].sort();
  const nodeRows = Object.entries(r.nodeCounters ?? {}).map(([node, c]) => [node, ...counterNames.map((k) => String(c[k] ?? 0))]);
  const timeline = (r.timeline ?? []).map((e) => [formatMs(e.tMs), e.node, e.kind, e.detail ?? '']);
  const data = {
    hist: { x: hist.map((_, i) => i), labels: hist.map((h) => (Number.isFinite(h.upToMs) ? `≤${formatMs(h.upToMs)}` : 'more')), y: hist.map((h) => h.count) },
    deliveries: { t: deliveries.map((d) => d.tMs / 1000), latency: deliveries.map((d) => d.latencyMs) },
    marks: (r.timeline ?? []).filter((e) => e.kind !== 'deliver').map((e) => ({ t: e.tMs / 1000, label: `${e.node} ${e.kind}` })),
  };
  // The delivery chart spans deliveries and marked events alike, so a kill before the first delivery is visible.
  const ts = [...data.deliveries.t, ...data.marks.map((m) => m.t)];
  const xRange = ts.length ? [Math.min(...ts), Math.max(...ts) + 0.001] : [0, 1];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>infonet harness report — ${esc(r.scenario)} — ${ok ? 'PASS' : 'FAIL'}</title>
<style>${assets.uplotCss}
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#111;background:#fff;max-width:72rem}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{border:1px solid #bbb;padding:.2rem .6rem;text-align:left}thead th{background:#eee}
.pass{color:#075e07}.fail{color:#a00000}figure{margin:0}figcaption{font-weight:600}
</style></head>
<body><main>
<h1>Harness report: ${esc(r.scenario)} — <span class="${ok ? 'pass' : 'fail'}">${ok ? 'PASS' : 'FAIL'}</span></h1>
<p>Generated ${esc(generatedAt.toISOString())}.</p>
${table('Summary', ['measure', 'value'], summary)}
${table('Checks', ['check', 'verdict', 'detail'], checks)}
<h2>Charts</h2>
<figure><figcaption id="hist-cap">Latency histogram (${esc(r.latencyOf)}, n=${lat.length})</figcaption><div id="hist" role="img" aria-labelledby="hist-cap"></div></figure>
<figure><figcaption id="deliv-cap">Deliveries over the run: latency (ms) against time (s); node kills and restarts marked</figcaption><div id="deliv" role="img" aria-labelledby="deliv-cap"></div></figure>
${table('Deliveries per transport kind', ['transport', 'deliveries'], transports)}
${table('Per-node counters', ['node', ...counterNames], nodeRows)}
${table('Timeline', ['time', 'node', 'event', 'detail'], timeline)}
</main>
<script>${assets.uplotJs}</script>
<script>
const data = ${scriptJson({ ...data, xRange })};
const width = Math.min(900, document.body.clientWidth - 20);
if (data.hist.y.length) new uPlot({
  width, height: 260, scales: { x: { time: false } },
  axes: [{ values: (u, ticks) => ticks.map((i) => data.hist.labels[i] ?? '') }, { label: 'messages' }],
  series: [{}, { label: 'messages', fill: 'rgba(40,90,200,0.4)', stroke: 'rgb(40,90,200)', paths: uPlot.paths.bars({ size: [0.8] }) }],
}, [data.hist.x, data.hist.y], document.getElementById('hist'));
if (data.deliveries.t.length) new uPlot({
  width, height: 260, scales: { x: { time: false, range: () => data.xRange } },
  axes: [{ label: 'seconds since start' }, { label: 'ms' }],
  series: [{}, { label: 'latency ms', stroke: 'rgb(200,80,40)', points: { show: true, size: 4 }, paths: () => null }],
  hooks: { draw: [(u) => { const ctx = u.ctx; ctx.save(); ctx.strokeStyle = 'rgba(0,0,0,0.5)'; ctx.fillStyle = '#000';
    for (const m of data.marks) { const x = u.valToPos(m.t, 'x', true); ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke(); ctx.fillText(m.label, x + 3, u.bbox.top + 12); }
    ctx.restore(); }] },
}, [data.deliveries.t, data.deliveries.latency], document.getElementById('deliv'));
</script>
</body></html>
`;
}
