// The operator console in a real browser (issue 13): Debian chromium via playwright-core against two real nodes on a
// real nats-server (A peers with B over the bus). Token flow (no token → 401 page with instructions; link with token →
// cookie → token-free URL), the Overview shows the real head after an append without reload (SSE), the Peers page
// lists A's link to B, a gate created through the API appears in the Gates page without reload, the Chain page
// lists the events newest first (metadata only), every request stays on 127.0.0.1, screenshots of each page, axe-core without serious
// violations, navigation by keyboard.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { apiTargetOf, callApi } from '../../api/client.js';
import { InfonetClient } from '../../bus/client.js';
import { generateIdentity } from '../../protocol/identity.js';
import { busPeerUrl } from '../../transports/bus-peer-protocol.js';
import { canvasHasInk, chromiumPath, launchBrowser, seriousA11yViolations, testOutputDir } from '../helpers/browser.js';
import { waitFor } from '../helpers/nats.js';
import { consoleNodes, rig, startBusPeered, startPeeredPair, stopConsoleRigAfterAll, tabTo } from './console-rig.js';
import { messagePayload } from '../node/helpers.js';

jest.setTimeout(120_000);

const nodes = consoleNodes;
stopConsoleRigAfterAll();

const run = chromiumPath() ? test : test.skip;

run('console: token flow, live overview, peers page, loopback only, screenshots, axe, keyboard', async () => {
  const { idB, dirA, a } = await startPeeredPair('infonet-console-');
  const { url, token } = apiTargetOf(dirA);
  expect(new URL(url).hostname).toBe('127.0.0.1');

  rig.browser = await launchBrowser();
  const page = await rig.browser.newPage({ viewport: { width: 1100, height: 800 } });
  const hosts = new Set<string>();
  page.on('request', (r) => { hosts.add(new URL(r.url()).hostname); });
  const out = testOutputDir();

  // No token: 401 and a page that says how to get the link.
  const denied = await page.goto(`${url}/console/`);
  expect(denied?.status()).toBe(401);
  await expect(page.textContent('body')).resolves.toContain('infonet console url --data');
  await page.screenshot({ path: join(out, 'console-401.png') });
  // Wrong token: still 401.
  expect((await page.goto(`${url}/console/?token=wrong`))?.status()).toBe(401);

  // The link with the token: redirected to the token-free URL, the page loads and goes live.
  await page.goto(`${url}/console/?token=${token}`);
  expect(page.url()).toBe(`${url}/console/`);
  await page.getByTestId('live').filter({ hasText: 'live' }).waitFor();
  await expect(page.getByTestId('node-id').textContent()).resolves.toBe(a.nodeId);
  await expect(page.getByTestId('height').textContent()).resolves.toBe(String(a.chain.length));

  // An append through the bus shows up without reload (pushed over SSE).
  rig.client = await InfonetClient.connect(a.natsUrl, a.nodeId);
  await rig.client.appendSigned(generateIdentity(), 'message', messagePayload(1));
  await page.getByTestId('height').filter({ hasText: String(a.chain.length) }).waitFor();
  await expect(page.getByTestId('head').textContent()).resolves.toBe(a.chain.head);
  // uPlot chart fed by the same stream: a labelled canvas with something drawn on it.
  await page.locator('[data-testid="charts"] canvas').waitFor();
  expect(await canvasHasInk(page, '[data-testid="charts"] canvas')).toBe(true);
  await expect(page.getByTestId('charts').getAttribute('aria-label')).resolves.toContain('sync height');
  await page.screenshot({ path: join(out, 'console-overview.png'), fullPage: true });
  expect(await seriousA11yViolations(page)).toEqual([]);

  // Keyboard: Tab reaches the Peers link, Enter opens the page.
  expect(await tabTo(page, 'Peers')).toBe(true);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 2, name: 'Peers' }).waitFor();
  const row = page.locator(`tr[data-peer="${busPeerUrl(idB.nodeId)}"]`);
  await row.waitFor();
  await expect(row.getByTestId('link-state').textContent()).resolves.toMatch(/\w+/);
  await page.screenshot({ path: join(out, 'console-peers.png'), fullPage: true });
  expect(await seriousA11yViolations(page)).toEqual([]);

  // Gate directory: a gate created through the node's API (as the CLI does) appears without reload.
  await page.click('a[href="#/gates"]');
  await page.getByRole('heading', { level: 2, name: 'Gate directory' }).waitFor();
  await callApi(apiTargetOf(dirA), 'gate.create', { gate_id: 'ops', display_name: 'Ops room', rules: { invite_only: true }, persona: 'alice' });
  const gateRow = page.locator('tr[data-gate="ops"]');
  await gateRow.waitFor();
  await expect(gateRow.textContent()).resolves.toContain('Ops room');
  await page.screenshot({ path: join(out, 'console-gates.png'), fullPage: true });
  expect(await seriousA11yViolations(page)).toEqual([]);

  // Chain page: newest first, metadata only.
  await page.click('a[href="#/chain"]');
  const chainRows = page.locator('[data-testid="chain"] tbody tr');
  await chainRows.first().waitFor();
  expect(await chainRows.count()).toBe(a.chain.length);
  await expect(chainRows.first().locator('td').first().textContent()).resolves.toBe(String(a.chain.length - 1));
  await page.screenshot({ path: join(out, 'console-chain.png'), fullPage: true });
  expect(await seriousA11yViolations(page)).toEqual([]);

  // Mailboxes page: counts only.
  await page.click('a[href="#/mailboxes"]');
  await page.getByTestId('mailboxes').waitFor();
  await page.screenshot({ path: join(out, 'console-mailboxes.png'), fullPage: true });
  expect(await seriousA11yViolations(page)).toEqual([]);

  // Every request the page made went to 127.0.0.1.
  expect([...hosts]).toEqual(['127.0.0.1']);
});

run('console Peers page: a peer killed during the test turns to backoff, and back to ready after its restart', async () => {
  const pair = await startPeeredPair('infonet-console-');
  const { server, idA, idB, dirA, dirB, a } = pair;
  let b = pair.b;
  const { url, token } = apiTargetOf(dirA);
  rig.browser ??= await launchBrowser();
  const page = await rig.browser.newPage({ viewport: { width: 1100, height: 800 } });
  await page.goto(`${url}/console/?token=${token}#/peers`);
  const state = page.locator(`tr[data-peer="${busPeerUrl(idB.nodeId)}"]`).getByTestId('link-state');
  await state.filter({ hasText: /^ready$/ }).waitFor();

  // Kill B, then give A something to replicate: the push fails and the page (pushed over SSE) shows backoff.
  await b.stop();
  nodes.splice(nodes.indexOf(b), 1);
  const dm = () => ({ sender_id: 'alice', ciphertext: randomBytes(48).toString('base64'), delivery_class: 'shared', recipient_token: randomBytes(16).toString('hex') });
  await a.mailboxes.deposit(dm());
  await state.filter({ hasText: /^backoff$/ }).waitFor({ timeout: 30_000 });
  await page.screenshot({ path: join(testOutputDir(), 'console-peers-backoff.png'), fullPage: true });

  // B back (same data dir and identity). A's backoff doubles up to 60 s, so its own next retry may be a minute away:
  // the test nudges the link (retryNow, the operator's trigger) until the deposit made while B was down is delivered
  // (a nudge during an attempt is ignored, and an attempt before B's endpoints answer fails back into backoff).
  b = await startBusPeered(server.clientUrl, dirB, idB, idA.nodeId);
  await waitFor(() => {
    a.replication!.retryNow();
    return a.replication!.metrics.get('dm_replication_push_ok') >= 1;
  }, 30_000, { intervalMs: 250, what: 'the deposit made while B was down to reach B' });
  // The delivery left the link ready, and the page (pushed over SSE) shows it.
  await state.filter({ hasText: /^ready$/ }).waitFor({ timeout: 30_000 });
  await page.screenshot({ path: join(testOutputDir(), 'console-peers-ready.png'), fullPage: true });
  await page.close();
});
