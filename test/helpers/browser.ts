// Real browser for tests: Debian's chromium driven by playwright-core (no browser download). The flags keep chromium
// off the network (this machine's network is closed; background networking would only produce refused connections).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

export function chromiumPath(): string | undefined {
  return process.env.INFONET_CHROMIUM ?? CHROMIUM_PATHS.find((p) => existsSync(p));
}

export async function launchBrowser(): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error('chromium not found: install Debian\'s chromium (npm test does it when run as root)');
  return chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-default-apps', '--disable-extensions'],
  });
}

/** Runs axe-core in the page; returns violations of impact serious or critical. */
export async function seriousA11yViolations(page: Page): Promise<Array<{ id: string; impact: string; help: string; nodes: number }>> {
  const axe = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  await page.addScriptTag({ content: axe });
  const result = await page.evaluate(async () => {
    const r = await (globalThis as unknown as { axe: { run(): Promise<{ violations: Array<{ id: string; impact: string; help: string; nodes: unknown[] }> }> } }).axe.run();
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length }));
  });
  return result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** True when the canvas has at least one pixel that is not fully transparent or white. */
export async function canvasHasInk(page: Page, selector: string): Promise<boolean> {
  return page.$eval(selector, (c) => {
    // Runs in the page: a canvas element (DOM types are not part of this project's lib).
    const canvas = c as unknown as { width: number; height: number; getContext(k: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } };
    const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < d.length; i += 4) if (d[i + 3] !== 0 && (d[i] < 250 || d[i + 1] < 250 || d[i + 2] < 250)) return true;
    return false;
  });
}

/** Where browser tests leave screenshots for people to look at (`.infonet/test-output/`, git-ignored). */
export function testOutputDir(): string {
  const dir = join(process.cwd(), '.infonet', 'test-output');
  mkdirSync(dir, { recursive: true });
  return dir;
}
