// The console's Gate directory actions in a real browser (issue 13): Debian chromium via playwright-core against real
// nodes on a real nats-server. (1) A creates a gate and invites B's key package through the API (as the CLI does);
// on B's console the pending invitation is accepted by clicking, and B's directory shows the membership and the
// post A made, decrypted on B. (2) On one node's page: create a gate with the keyboard, make a key package, invite it,
// rotate, remove the member; a garbage key package and a bad gate id show the node's error and change nothing.
// Conditions only (the page is driven by the node's SSE pushes), screenshots in the test output folder, axe-clean.
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { apiTargetOf, callApi, type ApiTarget } from '../../api/client.js';
import { waitUntil } from '../../harness/wait.js';
import { resolveConfig } from '../../node/config.js';
import { InfonetNode } from '../../node/infonet-node.js';
import { generateIdentity } from '../../protocol/identity.js';
import { busPeerUrl } from '../../transports/bus-peer-protocol.js';
import { chromiumPath, launchBrowser, seriousA11yViolations, testOutputDir } from '../helpers/browser.js';
import { startServer, stopAll } from '../helpers/nats.js';
import { removeTempDirs, silentLogger, tempDataDir } from '../node/helpers.js';

jest.setTimeout(120_000);

const nodes: InfonetNode[] = [];
let browser: Promise<Browser> | undefined;
/** One chromium for the file, launched while the nodes start. */
const getBrowser = (): Promise<Browser> => (browser ??= launchBrowser());

afterAll(async () => {
  await (await browser?.catch(() => undefined))?.close();
  for (const n of nodes) await n.stop();
  await stopAll();
  removeTempDirs();
});

const run = chromiumPath() ? test : test.skip;

async function startNode(natsUrl: string, env: Record<string, string> = {}, id = generateIdentity()): Promise<{ node: InfonetNode; api: ApiTarget }> {
  const dir = tempDataDir('infonet-console-gates-');
  const node = await InfonetNode.start({ dataDir: dir, natsUrl, identity: id, logger: silentLogger(), config: resolveConfig({ env }) });
  nodes.push(node);
  return { node, api: apiTargetOf(dir) };
}

async function openGates(api: ApiTarget): Promise<Page> {
  const page = await (await getBrowser()).newPage({ viewport: { width: 1100, height: 900 } });
  await page.goto(`${api.url}/console/?token=${api.token}#/gates`);
  await page.getByRole('heading', { level: 2, name: 'Gate directory' }).waitFor();
  return page;
}

const epochOf = async (api: ApiTarget, gate: string): Promise<number> => (await callApi<{ epoch: number }>(api, 'gate.show', { gate })).epoch;

run('an invite accepted from the page makes the node a member', async () => {
  void getBrowser();
  const server = await startServer();
  const idA = generateIdentity();
  const idB = generateIdentity();
  // A boot-time sync that times out under load would park the peer for the 120 s default cooldown, longer than the
  // sync wait below; the cooldown rules have their own tests.
  const env = (peer: string) => ({ MESH_PEER_PUSH_SECRET: 'console-gates-secret', MESH_RELAY_PEERS: busPeerUrl(peer), MESH_RELAY_FAILURE_COOLDOWN_S: '1' });
  const { node: a, api: apiA } = await startNode(server.clientUrl, env(idB.nodeId), idA);
  const { node: b, api: apiB } = await startNode(server.clientUrl, env(idA.nodeId), idB);

  // A creates the gate and invites B's key package through the node API (what `infonet gate …` does); A posts.
  await callApi(apiA, 'gate.create', { gate_id: 'ops', display_name: 'Ops room', persona: 'alice' });
  const kp = await callApi(apiB, 'gate.key_package', { persona: 'bob' });
  await callApi(apiA, 'gate.invite', { gate: 'ops', mls_key_package: kp.mls_key_package, welcome_dh_pub: kp.welcome_dh_pub, recipient_id: kp.recipient_id });
  await callApi(apiA, 'gate.post', { gate: 'ops', text: 'hello from alice' });

  // B's page: the Welcome replicated to B shows as bob's pending invitation (pushed, no reload).
  const page = await openGates(apiB);
  const bob = page.locator('[data-testid="pending-invitations"] tr[data-persona="bob"]');
  await bob.getByTestId('pending-count').filter({ hasText: /^[1-9]\d*$/ }).waitFor({ timeout: 30_000 });
  await page.screenshot({ path: join(testOutputDir(), 'console-gates-pending.png'), fullPage: true });

  await bob.getByRole('button', { name: 'Accept invitations for bob' }).click();
  await page.getByTestId('gate-result').filter({ hasText: 'Persona bob joined ops.' }).waitFor();
  const row = page.locator('[data-testid="gates"] tr[data-gate="ops"]');
  await row.getByTestId('member').filter({ hasText: /^yes$/ }).waitFor();
  await bob.getByTestId('pending-count').filter({ hasText: /^0$/ }).waitFor();
  expect((await callApi<{ gates: Array<Record<string, unknown>> }>(apiB, 'gate.list')).gates.find((g) => g.gate_id === 'ops'))
    .toMatchObject({ member: true, persona: 'bob', epoch: 2, member_count: 2 });

  // B reads A's post once its chain has A's events (sync); the page refetches on the pushed height.
  await row.getByRole('button', { name: 'Manage ops' }).click();
  await page.getByTestId('members').filter({ hasText: 'alice' }).waitFor();
  // One cycle is not enough: a cycle already in flight (boot, a contact) may have started before A's post, or fail
  // under load. Cycles run until B's head is A's.
  let last: unknown;
  await waitUntil(async () => {
    const rep = await b.inbound!.sync.runCycle();
    last = { outcome: rep.outcome, error: rep.error, heights: [b.chain.length, a.chain.length] };
    return rep.outcome === 'ok' && b.chain.head === a.chain.head;
  }, 60_000, 'B to sync A', 200).catch((e: Error) => { throw new Error(`${e.message}; last cycle: ${JSON.stringify(last)}`); });
  await page.getByTestId('posts').filter({ hasText: 'hello from alice' }).waitFor({ timeout: 30_000 });
  await page.screenshot({ path: join(testOutputDir(), 'console-gates-accepted.png'), fullPage: true });
  expect(await seriousA11yViolations(page)).toEqual([]);
  await page.close();
});

run('create, invite, rotate and remove from the page; bad input shows the error and changes nothing', async () => {
  void getBrowser();
  const server = await startServer();
  const { node: a, api } = await startNode(server.clientUrl);
  const page = await openGates(api);
  const result = page.getByTestId('gate-result');

  // Create with the keyboard only: focus the first field, type, Tab through the form, Enter submits.
  await page.getByLabel('Gate id').focus();
  await page.keyboard.type('team');
  await page.keyboard.press('Tab');
  await page.keyboard.type('Team room');
  await page.keyboard.press('Tab');
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.type('alice');
  await page.getByLabel('Gate id').press('Enter');
  await result.filter({ hasText: 'Created gate team (epoch 1).' }).waitFor();
  const row = page.locator('[data-testid="gates"] tr[data-gate="team"]');
  await row.getByTestId('member').filter({ hasText: /^yes$/ }).waitFor();

  // A bad gate id: the node's typed error on the page, no gate made.
  await page.getByLabel('Gate id').fill('Not A Gate!');
  await page.getByRole('button', { name: 'Create gate' }).click();
  await result.filter({ hasText: /create failed — bad_input: / }).waitFor();
  expect((await callApi<{ gates: unknown[] }>(api, 'gate.list')).gates).toHaveLength(1);

  // A key package for carol (made on the page), pasted into the invite form.
  await page.getByLabel('Persona', { exact: true }).fill('carol');
  await page.getByRole('button', { name: 'Make key package' }).click();
  const kpText = await page.getByTestId('key-package-out').inputValue();
  expect(JSON.parse(kpText)).toMatchObject({ persona: 'carol', welcome_dh_pub: expect.stringMatching(/^[0-9a-f]{64}$/) });
  await row.getByRole('button', { name: 'Manage team' }).click();
  const manage = page.getByTestId('manage');
  await manage.getByTestId('manage-epoch').filter({ hasText: /^1$/ }).waitFor();

  // Garbage key packages: a clear error, and neither the gate's epoch nor the chain moves.
  const height = a.chain.length;
  const invite = manage.getByRole('button', { name: 'Invite' });
  await manage.getByLabel(/Invitee's key package/).fill('this is not a key package');
  await invite.click();
  await result.filter({ hasText: 'invite failed — bad_input: the key package (the JSON `infonet gate key-package` prints) is not JSON' }).waitFor();
  await manage.getByLabel(/Invitee's key package/).fill(JSON.stringify({ ...JSON.parse(kpText), mls_key_package: 'AAAAAAAA' }));
  await invite.click();
  await result.filter({ hasText: 'invite failed — bad_input: not an MLS key package' }).waitFor();
  await page.screenshot({ path: join(testOutputDir(), 'console-gates-bad-key-package.png'), fullPage: true });
  expect(await epochOf(api, 'team')).toBe(1);
  expect(a.chain.length).toBe(height);

  // Invite carol for real: a new epoch, carol among the members.
  await manage.getByLabel(/Invitee's key package/).fill(kpText);
  await invite.click();
  await result.filter({ hasText: /^Invited to team: the gate is at epoch 2/ }).waitFor();
  await manage.getByTestId('members').filter({ hasText: 'carol' }).waitFor();

  // Rotate: epoch 3 on the page and on the node.
  await manage.getByRole('button', { name: 'Rotate epoch of team' }).click();
  await result.filter({ hasText: 'Rotated team: epoch 3.' }).waitFor();
  await row.getByTestId('epoch').filter({ hasText: /^3$/ }).waitFor();
  expect(await epochOf(api, 'team')).toBe(3);

  // Remove carol (the only other member in the list).
  await manage.getByLabel('Member to remove').selectOption('carol');
  await manage.getByRole('button', { name: 'Remove member' }).click();
  await result.filter({ hasText: 'Removed from team: the gate is at epoch 4.' }).waitFor();
  await manage.getByTestId('members').filter({ hasText: /^alice$/ }).waitFor().catch(async (e: Error) => {
    // (Timed out in 2 of 4 runs at load 30+, never alone: name what the page and the node showed.)
    const shown = await manage.getByTestId('members').textContent({ timeout: 1_000 }).catch((x: Error) => `(${x.message.split('\n')[0]})`);
    const node = await callApi<{ members?: string[]; epoch?: number }>(api, 'gate.show', { gate: 'team' }).catch((x: Error) => x.message);
    throw new Error(`${e.message}\npage members: ${JSON.stringify(shown)}; node gate.show: ${JSON.stringify(node)}`);
  });
  expect((await callApi<{ members: string[] }>(api, 'gate.show', { gate: 'team' })).members).toEqual(['alice']);
  await page.screenshot({ path: join(testOutputDir(), 'console-gates-actions.png'), fullPage: true });
  expect(await seriousA11yViolations(page)).toEqual([]);
  await page.close();
});
