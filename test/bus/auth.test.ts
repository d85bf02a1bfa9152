// Issue 8 item 1: the bus is authenticated. Real hub (bus/hub.ts) + two real nodes whose embedded servers are leaves
// of it, each with the leaf credential the hub issued for it.
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { InfonetClient } from '../../bus/client.js';
import { connectBus } from '../../bus/connect.js';
import { issueLeafCredential, startHub, type HubHandle } from '../../bus/hub.js';
import { cmdSubject } from '../../bus/subjects.js';
import { generateIdentity, identityToKeyFile } from '../../protocol/identity.js';
import { writeFileSync } from 'node:fs';
import type { InfonetNode } from '../../node/infonet-node.js';
import { resolveConfig } from '../../node/config.js';
import { waitFor, waitForLeafConnected } from '../helpers/nats.js';
import { removeTempDirs, startNode, tempDataDir } from '../node/helpers.js';

let hub: HubHandle;
let a: InfonetNode;
let b: InfonetNode;
let hubDir: string;

async function nodeOnHub(name: string): Promise<InfonetNode> {
  const dataDir = tempDataDir();
  const id = generateIdentity();
  writeFileSync(join(dataDir, 'node.key.json'), JSON.stringify(identityToKeyFile(id)), { mode: 0o600 });
  const leafCreds = issueLeafCredential(hubDir, { name, nodeId: id.nodeId });
  const config = resolveConfig({ env: {}, flags: { leaf: hub.leafUrl, leafCreds } });
  return startNode({ dataDir, config });
}

beforeAll(async () => {
  hubDir = tempDataDir('infonet-hub-');
  hub = await startHub({ dataDir: hubDir });
  [a, b] = await Promise.all([nodeOnHub('A'), nodeOnHub('B')]);
  await waitForLeafConnected(hub.server, 2);
});

afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await hub?.stop();
  removeTempDirs();
});

test('an unauthenticated connection is refused by the node and by the hub', async () => {
  await expect(connect({ servers: a.natsUrl })).rejects.toThrow(/Authorization Violation/);
  await expect(connect({ servers: hub.clientUrl })).rejects.toThrow(/Authorization Violation/);
  await expect(connectBus(a.natsUrl, { creds: { kind: 'user', user: 'x', password: 'y' } })).rejects.toThrow(/credentials not accepted/);
});

test("node A's credentials cannot command node B's mailboxes (over the hub); the hub administrator can", async () => {
  const body = { agent_id: 'bob', claims: [] } as never; // refused before any signature check
  const admin = await InfonetClient.connect(hub.clientUrl, b.nodeId, { creds: hub.adminCreds });
  try {
    // the hub administrator reaches B through B's leaf link (interest takes a moment to cross the link)
    await waitFor(() => admin.status().then((s) => s.node_id === b.nodeId), 10_000, { what: 'B answering through the hub' });
    for (const role of ['operator', 'service', 'peer'] as const) {
      const nc = await connectBus(a.natsUrl, { creds: join(a.dataDir, 'nats', 'auth', `${role}.nk`) });
      try {
        const toB = new InfonetClient(nc, b.nodeId, 2000);
        await expect(toB.request('dm.count', body)).rejects.toThrow(/permission denied/);
        await expect(toB.request('dm.poll', body)).rejects.toThrow(/permission denied/);
      } finally {
        await nc.close();
      }
    }
    // A's operator credential commands A
    const own = await InfonetClient.connect(a.natsUrl, a.nodeId, { creds: join(a.dataDir, 'nats', 'auth', 'operator.nk') });
    expect((await own.status()).node_id).toBe(a.nodeId);
    await own.close();
  } finally {
    await admin.close();
  }
});

test("the leaf link itself is limited: even an all-subjects user on leaf A gets no route to B's commands", async () => {
  // The node's embedded server has no such user, so test the hub side directly: A's leaf user may not publish B's
  // command subjects into the hub. A second leaf server with an unrestricted local user and A's leaf credential:
  const { startServer, stopAll } = await import('../helpers/nats.js');
  const { readCredsFile } = await import('../../bus/credentials.js');
  const creds = readCredsFile(issueLeafCredential(hubDir, { name: 'A2', nodeId: a.nodeId }));
  if (creds.kind !== 'user') throw new Error('leaf credential is user/password');
  const rogue = await startServer({ leafRemotes: [hub.leafUrl], leafCredentials: creds });
  try {
    await waitForLeafConnected(hub.server, 3);
    const nc = await connect({ servers: rogue.clientUrl });
    try {
      // positive control: the same connection reaches B's peer routes (HMAC-checked by B, so any answer will do)
      const peerSubject = cmdSubject(b.nodeId, 'x', 'y').replace('.cmd.x.y', '.peer.sync');
      await waitFor(() => nc.request(peerSubject, new Uint8Array(), { timeout: 1000 }).then(() => true), 10_000, { what: "B's peer route via the rogue leaf" });
      await expect(nc.request(cmdSubject(b.nodeId, 'dm', 'count'), new Uint8Array(), { timeout: 1500 })).rejects.toThrow(/no responders|timeout/i);
    } finally {
      await nc.close();
    }
  } finally {
    await stopAll();
  }
});

test('the test launcher starts authenticated servers and federations (helpers/nats.ts auth)', async () => {
  const { startHubWithLeaves } = await import('../helpers/nats.js');
  const fed = await startHubWithLeaves(2, { auth: true, leafPermissions: (i) => ({ publish: [`t.${i}.>`, '_INBOX.>'], subscribe: [`t.${i}.>`, '_INBOX.>'] }) });
  try {
    await expect(connect({ servers: fed.leaves[0].clientUrl })).rejects.toThrow(/Authorization Violation/);
    const [l0, l1] = await Promise.all([connectBus(fed.leaves[0].clientUrl), connectBus(fed.leaves[1].clientUrl)]);
    l1.subscribe('t.1.echo', { callback: (_e, m) => { m.respond(m.data); } });
    await l1.flush();
    // leaf 0's link may publish only t.0.>: leaf 1's subject is unreachable from it, leaf 1's own space works from the hub
    await expect(l0.request('t.1.echo', new Uint8Array([1]), { timeout: 1000 })).rejects.toThrow(/no responders|timeout/i);
    const h = await connectBus(fed.hub.clientUrl);
    await waitFor(() => h.request('t.1.echo', new Uint8Array([2]), { timeout: 500 }).then(() => true), 10_000, { what: 'leaf 1 via the hub' });
    await Promise.all([l0.close(), l1.close(), h.close()]);
  } finally {
    await fed.stopAll();
  }
});
