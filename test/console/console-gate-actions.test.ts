// The console's gate action routes without a browser (issue 13): they need the token (cookie or header), the console
// header and the node's own origin (a cookie-authenticated POST from another page changes nothing); unknown actions
// are 404; bad fields are typed bad_input and change nothing; posts are read only as the gate's member persona; the
// pending invitations of a persona are counted without being taken (API, console and `infonet gate pending`), and
// accepting from the console takes them.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { apiTargetOf, callApi } from '../../api/client.js';
import { CONSOLE_ACTION_HEADER, CONSOLE_FIELD_MAX } from '../../api/console-gate-routes.js';
import { resolveConfig } from '../../node/config.js';
import { InfonetNode } from '../../node/infonet-node.js';
import { generateIdentity } from '../../protocol/identity.js';
import { startServer, stopAll } from '../helpers/nats.js';
import { removeTempDirs, silentLogger, tempDataDir } from '../node/helpers.js';

jest.setTimeout(60_000);

let node: InfonetNode | undefined;
afterAll(async () => {
  await node?.stop();
  await stopAll();
  removeTempDirs();
});

test('console gate actions: auth, same-origin proof, typed bad input, member persona only, pending counted then accepted', async () => {
  const server = await startServer();
  const dir = tempDataDir('infonet-console-gate-actions-');
  node = await InfonetNode.start({ dataDir: dir, natsUrl: server.clientUrl, identity: generateIdentity(), logger: silentLogger(), config: resolveConfig({ env: {} }) });
  const api = apiTargetOf(dir);
  const origin = api.url;
  const action = (name: string, body: unknown, headers: Record<string, string> = { [CONSOLE_ACTION_HEADER]: '1', origin }, auth = true) =>
    fetch(`${api.url}/console-api/gate/${name}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(auth ? { cookie: `infonet_console=${api.token}` } : {}), ...headers },
      body: JSON.stringify(body),
    });
  const epoch = async () => (await callApi<{ epoch: number }>(api, 'gate.show', { gate: 'g' })).epoch;

  await callApi(api, 'gate.create', { gate_id: 'g', persona: 'alice' });
  const height = node.chain.length;

  // No token, no console header, a foreign origin: refused, nothing changed.
  expect((await action('rotate', { gate: 'g' }, { [CONSOLE_ACTION_HEADER]: '1', origin }, false)).status).toBe(401);
  expect((await action('rotate', { gate: 'g' }, { origin })).status).toBe(403);
  expect((await action('rotate', { gate: 'g' }, { [CONSOLE_ACTION_HEADER]: '1', origin: 'http://127.0.0.1:1' })).status).toBe(403);
  expect(await epoch()).toBe(1);
  expect(node.chain.length).toBe(height);

  // Unknown actions (also prototype names) are 404.
  expect((await action('export', {})).status).toBe(404);
  expect((await action('__proto__', {})).status).toBe(404);

  // Bad fields: typed bad_input, nothing changed.
  const bad = async (name: string, body: unknown, reason: RegExp) => {
    const r = await action(name, body);
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({ ok: false, error: { code: 'bad_input', reason: expect.stringMatching(reason) } });
  };
  await bad('invite', { gate: 'g', key_package: 7 }, /key_package must be text/);
  await bad('invite', { gate: 'g', key_package: 'x'.repeat(CONSOLE_FIELD_MAX + 1) }, /longer than/);
  await bad('invite', { gate: 'g', key_package: '[]' }, /must be a JSON object/);
  await bad('invite', { gate: 'g', key_package: '{"mls_key_package":"AAAA"}' }, /has no welcome_dh_pub/);
  await bad('create', { gate_id: 'h', rules: '{oops' }, /rules is not JSON/);
  await bad('remove', { gate: 'g' }, /member is required/);
  await bad('rotate', [1, 2], /body must be a JSON object/);
  expect(await epoch()).toBe(1);
  expect(node.chain.length).toBe(height);
  expect((await callApi<{ gates: unknown[] }>(api, 'gate.list')).gates).toHaveLength(1);

  // The same origin with the header: the action runs (the CLI's handler: a new epoch).
  const rotated = await action('rotate', { gate: 'g' });
  expect(rotated.status).toBe(200);
  expect(await rotated.json()).toMatchObject({ ok: true, result: { gate_id: 'g', epoch: 2 } });

  // Posts: only as the gate's member persona on this node.
  expect((await action('post', { gate: 'g', persona: 'alice', text: 'hi' })).status).toBe(200);
  const asOther = await action('read', { gate: 'g', persona: 'mallory' });
  expect(asOther.status).toBe(403);
  expect(await asOther.json()).toMatchObject({ ok: false, error: { code: 'not_member' } });
  expect((await action('read', { gate: 'g' })).status).toBe(400);
  const read = await (await action('read', { gate: 'g', persona: 'alice' })).json() as { result: { messages: Array<{ body: string }> } };
  expect(read.result.messages.map((m) => m.body)).toEqual(['hi']);

  // Pending invitations: bob's Welcome is counted (twice: counting takes nothing), then accepting takes it.
  const kp = await (await action('key_package', { persona: 'bob' })).json() as { result: Record<string, string> };
  expect((await action('invite', { gate: 'g', key_package: JSON.stringify(kp.result) })).status).toBe(200);
  const pending = async () => {
    const r = await fetch(`${api.url}/console-api/gates`, { headers: { cookie: `infonet_console=${api.token}` } });
    return ((await r.json()) as { result: { personas: Array<{ persona: string; pending: number }> } }).result.personas;
  };
  expect(await pending()).toEqual([{ persona: 'alice', pending: 0 }, { persona: 'bob', pending: 1 }]);
  expect(await callApi(api, 'gate.pending', { persona: 'bob' })).toEqual({ personas: [{ persona: 'bob', pending: 1 }] });
  // The CLI's verb for the same count.
  const cli = await new Promise<string>((resolve, reject) => execFile(process.execPath, ['--import', 'tsx', join(__dirname, '../../cli/main.ts'), 'gate', 'pending', '--data', dir, '--persona', 'bob'],
    { cwd: join(__dirname, '../..') }, (err, stdout) => (err ? reject(err) : resolve(stdout))));
  expect(JSON.parse(cli)).toEqual({ personas: [{ persona: 'bob', pending: 1 }] });
  expect((await action('accept', { persona: 'bob' })).status).toBe(200);
  expect(await pending()).toEqual([{ persona: 'alice', pending: 0 }, { persona: 'bob', pending: 0 }]);
});
