// The local HTTP API and the bus surface of the MLS commands: 127.0.0.1 only, bearer token from the data directory,
// typed errors with HTTP statuses (never a 500 for bad input), body limit; the bus answers bad bodies with bad_input.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { apiTargetOf, callApi } from '../../api/client.js';
import { API_BODY_LIMIT, startLocalApi, type LocalApi } from '../../api/local-api.js';
import { requestTyped } from '../../bus/codec.js';
import { startMlsCommands } from '../../bus/mls-commands.js';
import { cmdSubject } from '../../bus/subjects.js';
import { mlsHandlers } from '../../mls/mls-handlers.js';
import { startServer, stopAll } from '../helpers/nats.js';
import { MlsTestBed } from './helpers.js';

jest.setTimeout(60_000);

const bed = new MlsTestBed();
let api: LocalApi | undefined;
afterAll(async () => {
  await api?.stop();
  await bed.cleanup();
  await stopAll();
});

test('local API: token, typed errors, limits; bus: same table, bad_input for bad bodies', async () => {
  const n = await bed.node('api');
  api = await startLocalApi({ dataDir: n.dir, handlers: mlsHandlers(n.owner) });
  expect(api.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(statSync(join(n.dir, 'api.token')).mode & 0o777).toBe(0o600);
  const target = apiTargetOf(n.dir);
  expect(target.token).toBe(readFileSync(join(n.dir, 'api.token'), 'utf8').trim());

  const post = (path: string, body: string, token: string | null = target.token) =>
    fetch(`${api!.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body });
  expect((await post('/api/v1/gate.list', '{}', null)).status).toBe(401);
  expect((await post('/api/v1/gate.list', '{}', 'wrong')).status).toBe(401);
  expect((await post('/api/v1/gate.nope', '{}')).status).toBe(404);
  expect((await post('/api/v1/__proto__', '{}')).status).toBe(404);
  expect((await post('/api/v1/gate.create', '{not json')).status).toBe(400);
  expect((await post('/api/v1/gate.create', JSON.stringify({ gate_id: 'x'.repeat(API_BODY_LIMIT) }))).status).toBe(413);
  const badGate = await post('/api/v1/gate.create', JSON.stringify({ gate_id: 'Not A Gate!' }));
  expect(badGate.status).toBe(400);
  expect(await badGate.json()).toMatchObject({ ok: false, error: { code: 'bad_input' } });
  expect((await post('/api/v1/gate.read', JSON.stringify({ gate: 'unknown' }))).status).toBe(404);
  expect((await post('/api/v1/gate.post', JSON.stringify({ gate: 'unknown', text: 1 }))).status).toBe(400);

  await callApi(target, 'gate.create', { gate_id: 'api-gate', persona: 'alice' });
  expect((await callApi<{ gates: Array<{ gate_id: string }> }>(target, 'gate.list')).gates.map((g) => g.gate_id)).toEqual(['api-gate']);

  const server = await startServer();
  const nc = await connect({ servers: server.clientUrl });
  const bus = startMlsCommands(nc, n.identity.nodeId, mlsHandlers(n.owner), pino({ level: 'silent' }));
  try {
    const subject = (verb: string) => cmdSubject(n.identity.nodeId, 'gate', verb);
    await expect(requestTyped(nc, subject('post'), { gate: 'api-gate' })).rejects.toMatchObject({ code: 'bad_input' });
    await expect(requestTyped(nc, subject('show'), 'not a map')).rejects.toMatchObject({ code: 'bad_input' });
    expect(await requestTyped(nc, subject('show'), { gate: 'api-gate' })).toMatchObject({ gate_id: 'api-gate', member: true, epoch: 1, member_count: 1 });
  } finally {
    await bus.stop();
    await nc.close();
  }
});
