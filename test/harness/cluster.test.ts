// The multi-node harness against real processes: hub + 3 `infonet node run` children, each an embedded leaf server.
import { InfonetClient } from '../../bus/client.js';
import { Cluster } from '../../harness/cluster.js';
import { generateIdentity } from '../../protocol/identity.js';
import { readFileSync, statSync } from 'node:fs';

let cluster: Cluster;

beforeAll(async () => {
  cluster = await Cluster.start({ nodes: 3, logLevel: 'warn' });
}, 60_000);

afterAll(async () => {
  await cluster?.stopAll();
});

test('three nodes up, each a leaf of the hub, each with its own data dir, config and peers', async () => {
  const leafz = (await (await fetch(`${cluster.hub.server.monitorUrl}/leafz`)).json()) as { leafnodes: number };
  expect(leafz.leafnodes).toBe(3);
  const dirs = new Set<string>();
  for (const name of ['A', 'B', 'C']) {
    const n = cluster.node(name);
    const st = await cluster.status(name);
    expect(st.node_id).toBe(n.id);
    expect(st.nats).toEqual(expect.objectContaining({ embedded: true, leaf: [cluster.hub.leafUrl] }));
    dirs.add(n.dataDir);
    expect(statSync(n.configFile).mode & 0o777).toBe(0o600);
    const cfg = JSON.parse(readFileSync(n.configFile, 'utf8')) as { env: Record<string, string>; http: { port: number } };
    expect(cfg.http.port).toBe(n.httpPort);
    expect(cfg.env.MESH_PUBLIC_PEER_URL).toBe(`http://127.0.0.1:${n.httpPort}`);
    const peers = cfg.env.MESH_RELAY_PEERS.split(',');
    expect(peers.sort()).toEqual(['A', 'B', 'C'].filter((x) => x !== name).map((x) => cluster.node(x).peerUrl).sort());
    // a secret per node, random per run; each node knows its own and its peers'
    const secrets = cfg.env.MESH_PEER_SECRETS.split(',').map((kv) => kv.split('=')[1]);
    expect(secrets).toHaveLength(3);
    for (const s of secrets) expect(s).toMatch(/^[0-9a-f]{64}$/);
  }
  expect(dirs.size).toBe(3);
});

test('bus auth (issue 8): node A\'s operator credential commands A, but not the node on leaf B', async () => {
  const urlA = (await cluster.status('A')).nats.url;
  await expect(InfonetClient.connect(urlA, cluster.node('A').id)).rejects.toThrow(/credentials required/);
  const ownA = await InfonetClient.connect(urlA, cluster.node('A').id, { creds: cluster.node('A').operatorCreds });
  const viaA = new InfonetClient(ownA.nc, cluster.node('B').id, 2000);
  try {
    expect((await ownA.status()).node_id).toBe(cluster.node('A').id);
    await expect(viaA.status()).rejects.toThrow(/permission denied|Permissions Violation|no responders/i);
  } finally {
    await ownA.close();
  }
});

test('kill -9 of a node and a restart keep everything it acknowledged', async () => {
  const b = cluster.client('B');
  const author = generateIdentity();
  for (let i = 0; i < 5; i++) {
    await b.appendSigned(author, 'message', { message: `m${i}`, destination: 'broadcast', channel: 'LongFast', priority: 'normal', ephemeral: false });
  }
  const token = `crash-${Date.now()}`;
  const deposited: string[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await b.dmDeposit({ sender_id: `sender-${i}`, ciphertext: Buffer.from(`sealed bytes ${i}`).toString('base64'), delivery_class: 'shared', recipient_token: token });
    deposited.push(r.msg_id);
  }
  const before = await b.chainStatus();
  const killed = await cluster.kill('B', 'SIGKILL');
  expect(killed.signal).toBe('SIGKILL');
  await expect(b.request('node.status', undefined, 500)).rejects.toThrow();
  await cluster.restart('B');
  const st = await b.status();
  expect({ height: st.height, head: st.head }).toEqual(before);
  expect(st.previous_run?.clean_stop).toBe(false);
  const pending = await b.dmPendingIds(generateIdentity(), [{ type: 'shared', token }]);
  expect(pending.msg_ids.sort()).toEqual(deposited.sort());
  // a graceful stop is recorded as clean
  await cluster.kill('B', 'SIGTERM');
  await cluster.restart('B');
  expect((await b.status()).previous_run?.clean_stop).toBe(true);
}, 60_000);
