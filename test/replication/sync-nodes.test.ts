// Inbound side wired into real nodes: the peer HTTP listener starts with the node (status shows its URL),
// and the sync scheduler of B pulls A's chain over the bus (nats://<node id>), DMs included, and hydrates
// them into B's relay through the node's chain notices.
import { generateIdentity } from '../../protocol/identity.js';
import { resolveConfig } from '../../node/config.js';
import { InfonetNode } from '../../node/infonet-node.js';
import { busPeerUrl } from '../../transports/bus-peer-protocol.js';
import { startServer, stopAll, waitFor } from '../helpers/nats.js';
import { silentLogger, tempDataDir, removeTempDirs } from '../node/helpers.js';
import { httpRequest } from './inbound-helpers.js';

const nodes: InfonetNode[] = [];
afterAll(async () => {
  for (const n of nodes) await n.stop();
  await stopAll();
  removeTempDirs();
});

test('B syncs A over the bus through its scheduler; the DM lands in B\'s mailbox; A serves HTTP sync on its status URL', async () => {
  const server = await startServer();
  const idA = generateIdentity();
  const idB = generateIdentity();
  // B's boot-time cycle may time out under load (5 s sync timeout): with the 120 s default cooldown it would then
  // outlast the wait below. The cooldown rules have their own tests (sync-client, sync-heal).
  const common = { MESH_PEER_PUSH_SECRET: 'nodes-secret', MESH_RELAY_FAILURE_COOLDOWN_S: '1' };
  const a = await InfonetNode.start({
    dataDir: tempDataDir(), natsUrl: server.clientUrl, identity: idA, logger: silentLogger(),
    config: resolveConfig({ env: { ...common, MESH_RELAY_PEERS: busPeerUrl(idB.nodeId) } }),
  });
  nodes.push(a);
  const b = await InfonetNode.start({
    dataDir: tempDataDir(), natsUrl: server.clientUrl, identity: idB, logger: silentLogger(),
    config: resolveConfig({ env: { ...common, MESH_RELAY_PEERS: busPeerUrl(idA.nodeId) } }),
  });
  nodes.push(b);

  const st = await a.status();
  expect(st.inbound?.http_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

  const author = generateIdentity();
  await a.chain.appendLocal(author, 'message', { message: 'hi', destination: 'broadcast', channel: 'LongFast', priority: 'normal', ephemeral: false });
  await a.chain.appendLocal(generateIdentity(), 'dm_message', {
    recipient_id: 'bob-agent', delivery_class: 'request', recipient_token: '', ciphertext: Buffer.from('cipher-node-dm-1').toString('base64'),
    msg_id: 'node-dm-1', timestamp: Math.floor(Date.now() / 1000), format: 'mls1', transport_lock: 'private_strong',
  });
  await a.chain.appendLocal(author, 'vote', { target_id: 'post-1', vote: 1, gate: 'ops-gate' });

  // The boot-time cycle may still be in flight; a fresh cycle after the appends must bring B level with A.
  await waitFor(async () => {
    const rep = await b.inbound!.sync.runCycle();
    return rep.outcome === 'ok' && b.chain.head === a.chain.head;
  }, 15_000);
  expect(b.chain.length).toBe(3);
  // Signed bus sync asked for unredacted pages, so the vote kept its gate and was ingestible.
  expect((await b.chain.readRange(2, 1))[0].payload.gate).toBe('ops-gate');
  // (Listing a mailbox now needs the recipient's signed-poll proof; the stored mailbox count shows the hydration.)
  await waitFor(async () => (await b.mailboxes.store.mailboxCount()) === 1);
  const bs = await b.status();
  expect(bs.inbound?.sync).toMatchObject({ last_outcome: 'ok', consecutive_failures: 0, peers: 1 });

  // A's HTTP listener answers sync from loopback with everything, DM included.
  const page = await httpRequest(st.inbound!.http_url + '/api/mesh/infonet/sync');
  expect(page.json.events.map((e: { event_type: string }) => e.event_type)).toEqual(['message', 'dm_message', 'vote']);
});
