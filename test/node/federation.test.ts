// Federation over leaf nodes: a hub and two nodes whose embedded servers are leaves of it. A client connected to
// the hub drives the node on leaf B, receives its events, and finds both nodes through $SRV.PING. (A client on
// leaf A cannot: a node's credentials command only that node — issue 8, test/bus/auth.test.ts.)
import { InfonetClient } from '../../bus/client.js';
import { cmdSubject } from '../../bus/subjects.js';
import { generateIdentity } from '../../protocol/identity.js';
import type { InfonetNode } from '../../node/infonet-node.js';
import { startServer, stopAll, waitFor, waitForLeafConnected, waitForResponder, type TestServer } from '../helpers/nats.js';
import { messagePayload, removeTempDirs, startNode } from './helpers.js';

let hub: TestServer;
let a: InfonetNode;
let b: InfonetNode;
let viaA: InfonetClient;

beforeAll(async () => {
  hub = await startServer({ jetstream: { domain: 'hub' }, leafListen: true });
  [a, b] = await Promise.all([startNode({ leafRemote: hub.leafUrl! }), startNode({ leafRemote: hub.leafUrl! })]);
  await waitForLeafConnected(hub, 2);
  viaA = await InfonetClient.connect(hub.clientUrl, b.nodeId);
  await waitForResponder(viaA.nc, cmdSubject(b.nodeId, 'chain', 'status'));
});

afterAll(async () => {
  await viaA?.close();
  await a?.stop();
  await b?.stop();
  await stopAll();
  removeTempDirs();
});

test('nodes run embedded servers that are leaves of the hub', () => {
  expect(a.natsUrl).not.toBe(b.natsUrl);
  expect(a.natsServer && b.natsServer).toBeTruthy();
});

test('a client on the hub drives the node on leaf B and sees its events', async () => {
  const seen: string[] = [];
  const heads: string[] = [];
  const sub = viaA.events$().subscribe((e) => {
    seen.push(e.kind);
    if (e.kind === 'chain_appended') heads.push((e.body as { head: string }).head);
  });
  await viaA.flush();
  // Interest for the event subscription has to cross A → hub → B: provoke `rejected` events until one arrives.
  await waitFor(async () => {
    await viaA.request('chain.export', { limit: 0 }).catch(() => undefined);
    return seen.includes('rejected');
  }, 10_000, { what: 'events from B reaching a client on A' });
  const r = await viaA.appendSigned(generateIdentity(), 'message', messagePayload(1));
  expect(r.height).toBe(1);
  await waitFor(() => heads.includes(r.head), 5000, { what: 'chain_appended from B' });
  sub.unsubscribe();
  expect(await viaA.chainStatus()).toEqual({ height: 1, head: r.head });
  // node A was not touched
  expect(a.chain.length).toBe(0);
  const viaB = new InfonetClient(viaA.nc, a.nodeId);
  await waitForResponder(viaA.nc, cmdSubject(a.nodeId, 'chain', 'status'));
  expect(await viaB.chainStatus()).toMatchObject({ height: 0 });
});

test('both nodes are discoverable through $SRV.PING from either leaf and from the hub', async () => {
  const found = await waitFor(async () => {
    const ids = (await InfonetClient.discover(viaA.nc, 500)).map((n) => n.node_id);
    return ids.includes(a.nodeId) && ids.includes(b.nodeId) ? ids : null;
  }, 10_000, { what: 'both nodes answering $SRV.PING' });
  expect(found).toEqual(expect.arrayContaining([a.nodeId, b.nodeId]));
  const viaHub = await InfonetClient.connect(hub.clientUrl, b.nodeId);
  try {
    expect((await viaHub.status()).node_id).toBe(b.nodeId);
  } finally {
    await viaHub.close();
  }
});
