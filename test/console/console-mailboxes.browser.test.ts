// The console's Mailboxes page and replication latency chart in a real browser (issue 13): Debian chromium via
// playwright-core against two real nodes on a real nats-server (A replicates to B over the bus). After deposits on A
// through the bus, the Mailboxes page shows the counts per class and state and the oldest pending age (counts only),
// and the Overview's latency chart draws A's push round trips (canvas with ink, labelled with the numbers). Reached
// by keyboard; axe-core finds no serious violations.
import { join } from 'node:path';
import { apiTargetOf } from '../../api/client.js';
import { InfonetClient } from '../../bus/client.js';
import { generateIdentity } from '../../protocol/identity.js';
import { canvasHasInk, chromiumPath, launchBrowser, seriousA11yViolations, testOutputDir } from '../helpers/browser.js';
import { sealed } from '../node/helpers.js';
import { rig, startPeeredPair, stopConsoleRigAfterAll, tabTo } from './console-rig.js';

jest.setTimeout(120_000);

stopConsoleRigAfterAll();

const run = chromiumPath() ? test : test.skip;

run('console: Mailboxes page counts after deposits, latency chart draws push round trips; keyboard, axe', async () => {
  const { idB, dirA, a } = await startPeeredPair('infonet-console-mbx-');
  await a.mailboxes.stats.whenCounted();

  rig.browser = await launchBrowser();
  const page = await rig.browser.newPage({ viewport: { width: 1100, height: 900 } });
  const hosts = new Set<string>();
  page.on('request', (r) => { hosts.add(new URL(r.url()).hostname); });
  const { url, token } = apiTargetOf(dirA);
  await page.goto(`${url}/console/?token=${token}`);
  await page.getByTestId('live').filter({ hasText: 'live' }).waitFor();

  // Three shared DMs for one token (three senders: the per-sender cap is 2) and one request DM, through the bus.
  rig.client = await InfonetClient.connect(a.natsUrl, a.nodeId);
  for (let i = 0; i < 3; i++) {
    await rig.client.dmDeposit({ sender_id: `console-sender-${i}`, recipient_token: 'console-token', delivery_class: 'shared', ciphertext: sealed(), msg_id: `console-${i}` });
  }
  await rig.client.dmDeposit({ sender_id: 'console-sender-r', sender_token_hash: 'h', recipient_id: idB.nodeId, delivery_class: 'request', ciphertext: sealed(), msg_id: 'console-r' });
  await a.replication!.whenIdle();

  // Overview: the latency chart gets a sample with A's push round trips (pushed by the node, no reload).
  const chart = page.getByTestId('latency-chart');
  await page.locator('[data-testid="latency-chart"][aria-label*="p50"]').waitFor({ timeout: 30_000 });
  await expect(chart.getAttribute('aria-label')).resolves.toMatch(/p50 [\d.]+ ms, p95 [\d.]+ ms/);
  await expect(chart.getAttribute('aria-label')).resolves.toContain('bus p95');
  expect(await canvasHasInk(page, '[data-testid="latency-chart"] canvas')).toBe(true);
  await page.screenshot({ path: join(testOutputDir(), 'console-overview-latency.png'), fullPage: true });
  expect(await seriousA11yViolations(page)).toEqual([]);

  // Keyboard: Tab reaches the Mailboxes link, Enter opens the page.
  expect(await tabTo(page, 'Mailboxes')).toBe(true);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 2, name: 'Mailboxes' }).waitFor();

  const shared = page.locator('[data-testid="mailbox-classes"] tr[data-class="shared"]');
  await shared.getByTestId('pending').filter({ hasText: /^3$/ }).waitFor();
  await expect(shared.locator('td').nth(1).textContent()).resolves.toBe('1');
  await expect(page.locator('[data-testid="mailbox-classes"] tr[data-class="request"]').getByTestId('pending').textContent()).resolves.toBe('1');
  await expect(page.getByTestId('pending-all').textContent()).resolves.toBe('4');
  await expect(page.getByTestId('deposits-local').textContent()).resolves.toBe('4');
  await expect(page.getByTestId('oldest-pending').textContent()).resolves.toMatch(/^\d+ s$/);
  // Counts only: no recipient id, token or content on the page.
  const text = (await page.textContent('main')) ?? '';
  expect(text).not.toContain(idB.nodeId);
  expect(text).not.toContain('console-token');
  await page.screenshot({ path: join(testOutputDir(), 'console-mailboxes-counts.png'), fullPage: true });
  expect(await seriousA11yViolations(page)).toEqual([]);

  // A poll on A takes the shared three: the page follows (pushed), claimed tombstones appear.
  await rig.client.dmPoll(generateIdentity(), [{ type: 'shared', token: 'console-token' }]);
  await shared.getByTestId('pending').filter({ hasText: /^0$/ }).waitFor({ timeout: 30_000 });
  // The claims counter can arrive in a later update than the class counts: wait for each figure, then read it.
  await page.getByTestId('claimed').filter({ hasText: /^3$/ }).waitFor({ timeout: 30_000 });
  await page.getByTestId('claims').filter({ hasText: /^3$/ }).waitFor({ timeout: 30_000 });
  await expect(page.getByTestId('claimed').textContent()).resolves.toBe('3');
  await expect(page.getByTestId('claims').textContent()).resolves.toBe('3');

  expect([...hosts]).toEqual(['127.0.0.1']);
});
