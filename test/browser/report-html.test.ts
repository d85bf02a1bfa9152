// The harness report opens in a real browser (Debian chromium via playwright-core) with its charts drawn, and passes
// an automated accessibility check (axe-core) without serious violations.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { latencyHistogram } from '../../harness/report-html.js';
import { writeReportFiles } from '../../harness/report-files.js';
import type { ScenarioReport } from '../../harness/report.js';
import { canvasHasInk, chromiumPath, launchBrowser, seriousA11yViolations, testOutputDir } from '../helpers/browser.js';

const haveChromium = !!chromiumPath();
const itBrowser = haveChromium ? it : it.skip;

const report: ScenarioReport = {
  scenario: 'offline-recipient', nodes: 3,
  counts: { sent: 20, delivered: 20, duplicates: 0, lost: 0 },
  latenciesMs: Array.from({ length: 20 }, (_, i) => 3 + i * 2.5),
  latencyOf: 'deposit at A → visible at C',
  checks: [{ name: 'every DM delivered once', ok: true, detail: '20/20' }, { name: 'quota freed on B', ok: true, detail: '' }],
  totalMs: 8200,
  timeline: [
    { tMs: 0, node: 'A', kind: 'start' }, { tMs: 2100, node: 'A', kind: 'kill', detail: 'SIGKILL' },
    { tMs: 4100, node: 'A', kind: 'restart' },
  ],
  deliveries: Array.from({ length: 20 }, (_, i) => ({ tMs: 1000 + i * 50, latencyMs: 3 + i * 2.5, transport: 'loopback' })),
  transportCounts: { loopback: 20 },
  nodeCounters: { A: { dm_replication_push_ok: 40 }, B: { dm_ack_applied: 20 }, C: { dm_pull_requests: 1 } },
};

describe('harness report.html', () => {
  let dir: string;
  let browser: Browser | undefined;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'infonet-report-')); });
  afterAll(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('buckets latencies into a histogram that accounts for every message', () => {
    const h = latencyHistogram([0.5, 1, 3, 7, 7, 400, 999_999]);
    expect(h.reduce((n: number, b: { count: number }) => n + b.count, 0)).toBe(7);
    expect(h[0]).toEqual({ upToMs: 1, count: 2 });
    expect(h[h.length - 1]).toEqual({ upToMs: Number.POSITIVE_INFINITY, count: 1 });
  });

  it('writes report.json beside report.html, self-contained (no external URL)', () => {
    const html = writeReportFiles(report, dir);
    expect(html).toBe(join(dir, 'report.html'));
    const json = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
    expect(json.ok).toBe(true);
    expect(json.transportCounts).toEqual({ loopback: 20 });
    const text = readFileSync(html, 'utf8');
    expect(text).not.toMatch(/(src|href)\s*=\s*["']?https?:/i);
    expect(text).toContain('uPlot');
  });

  itBrowser('opens in chromium with both charts drawn and no serious accessibility violations', async () => {
    const html = writeReportFiles(report, dir);
    const b = await launchBrowser();
    browser = b;
    const page = await b.newPage();
    const external: string[] = [];
    page.on('request', (r) => { if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) external.push(r.url()); });
    await page.goto(pathToFileURL(html).href);
    await page.waitForSelector('#hist canvas');
    await page.waitForSelector('#deliv canvas');
    expect(await canvasHasInk(page, '#hist canvas')).toBe(true);
    expect(await canvasHasInk(page, '#deliv canvas')).toBe(true);
    expect(await page.textContent('h1')).toContain('PASS');
    expect(await seriousA11yViolations(page)).toEqual([]);
    await page.screenshot({ path: join(testOutputDir(), 'harness-report.png'), fullPage: true });
    expect(external).toEqual([]);
  });
});
