// MLS DM sessions through two running nodes (spec §11.7): Bob's key package from B, Alice on A opens a session —
// the sealed Welcome rides the first DM as session_welcome through the mailbox path (replicated A → B); Bob joins on
// B's live API and answers into the shared mailbox Alice named; Alice reads on A; mls-reset wipes DM state only.
import { apiTargetOf, callApi } from '../../api/client.js';
import { waitUntil } from '../../harness/wait.js';
import { resolveConfig } from '../../node/config.js';
import { InfonetNode } from '../../node/infonet-node.js';
import { generateIdentity } from '../../protocol/identity.js';
import { busPeerUrl } from '../../transports/bus-peer-protocol.js';
import { startServer, stopAll } from '../helpers/nats.js';
import { removeTempDirs, silentLogger, tempDataDir } from '../node/helpers.js';

jest.setTimeout(120_000);

const nodes: InfonetNode[] = [];
afterAll(async () => {
  for (const n of nodes) await n.stop();
  await stopAll();
  removeTempDirs();
});

type Sessions = Array<{ session_id: string; shared: boolean; messages: Array<{ body: string }> }>;

test('DM session over live nodes: session_welcome in the first DM, reply over the shared mailbox, reset', async () => {
  const server = await startServer();
  const idA = generateIdentity();
  const idB = generateIdentity();
  const start = async (id: typeof idA, peer: string) => {
    const n = await InfonetNode.start({
      dataDir: tempDataDir(), natsUrl: server.clientUrl, identity: id, logger: silentLogger(),
      config: resolveConfig({ env: { MESH_PEER_PUSH_SECRET: 'mls-dm-secret', MESH_RELAY_PEERS: busPeerUrl(peer) } }),
    });
    nodes.push(n);
    return apiTargetOf(n.dataDir);
  };
  const a = await start(idA, idB.nodeId);
  const b = await start(idB, idA.nodeId);

  const kp = await callApi(b, 'dm_session.key_package', { alias: 'bob' });
  const created = await callApi(a, 'dm_session.create', { ...kp, alias: 'alice', text: 'hello bob' });
  const bobSessions = await waitUntil(async () => {
    const s = (await callApi(b, 'dm_session.read', { alias: 'bob' })).sessions as Sessions;
    return s.length === 1 && s[0].messages.length === 1 ? s : null;
  }, 30_000, 'Bob joins the session on B');
  expect(bobSessions[0]).toMatchObject({ session_id: created.session_id, messages: [{ body: 'hello bob' }] });

  await callApi(b, 'dm_session.send', { session_id: created.session_id, text: 'hello alice' });
  const aliceSessions = await waitUntil(async () => {
    const s = (await callApi(a, 'dm_session.read', { alias: 'alice' })).sessions as Sessions;
    return s[0]?.messages.length === 2 ? s : null;
  }, 30_000, 'Alice reads Bob\'s answer on A');
  expect(aliceSessions[0]).toMatchObject({ shared: true, messages: [{ body: 'hello bob' }, { body: 'hello alice' }] });

  await callApi(a, 'gate.create', { gate_id: 'stays', persona: 'alice' });
  expect(await callApi(a, 'dm_session.reset')).toMatchObject({ sessions_wiped: 1 });
  expect((await callApi(a, 'dm_session.read', { alias: 'alice' })).sessions).toEqual([]);
  expect(((await callApi(a, 'gate.list')).gates as Array<{ gate_id: string; member: boolean }>)).toEqual([expect.objectContaining({ gate_id: 'stays', member: true })]);
});
