// Writes a scenario's report beside each other as report.json (the summary as data) and report.html (the same, with
// charts, self-contained). Reports go to a directory that outlives the run directory (which is removed unless --keep):
// `<cwd>/.infonet/reports/<scenario>-<time>/` by default.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { renderReportHtml, type ChartAssets } from './report-html.js';
import { reportOk, type ScenarioReport } from './report.js';

let assets: ChartAssets | undefined;

function chartAssets(): ChartAssets {
  if (assets) return assets;
  const req = createRequire(join(process.cwd(), 'package.json'));
  const dir = resolve(req.resolve('uplot'), '..');
  assets = { uplotJs: readFileSync(join(dir, 'uPlot.iife.min.js'), 'utf8'), uplotCss: readFileSync(join(dir, 'uPlot.min.css'), 'utf8') };
  return assets;
}

export function defaultReportDir(scenario: string, now = new Date()): string {
  return resolve('.infonet', 'reports', `${scenario}-${now.toISOString().replace(/[:.]/g, '-')}`);
}

/** Writes report.json and report.html into `dir` (created) and returns the HTML file's path. */
export function writeReportFiles(report: ScenarioReport, dir = defaultReportDir(report.scenario)): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'report.json'), JSON.stringify({ ...report, ok: reportOk(report) }, null, 2) + '\n');
  const html = join(dir, 'report.html');
  writeFileSync(html, renderReportHtml(report, chartAssets()));
  return html;
}
