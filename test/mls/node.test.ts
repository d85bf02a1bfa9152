// MLS through running nodes (issue 12): real nats-server, real LevelDB, two nodes peered over the bus. Alice on A
// creates a gate over A's local HTTP API, Bob's key package comes from B over the bus, the Welcome travels through
// the DM mailbox path, Bob accepts on B's live API, posts replicate by sync and decrypt on B; B restarts and still
// reads. A marker plaintext never shows up in LevelDB files, recorded bus traffic or sync responses; ciphertexts
// only take bucket sizes; the CLI refuses to open a data directory a node owns.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { apiTargetOf, callApi } from '../../api/client.js';
import { requestTyped } from '../../bus/codec.js';
import { cmdSubject } from '../../bus/subjects.js';
import { waitUntil } from '../../harness/wait.js';
import { resolveConfig } from '../../node/config.js';
import { InfonetNode } from '../../node/infonet-node.js';
import { generateIdentity } from '../../protocol/identity.js';
import { PADDING_BUCKETS } from '../../protocol/mls-framing.js';
import { busPeerUrl } from '../../transports/bus-peer-protocol.js';
import { startServer, stopAll } from '../helpers/nats.js';
import { removeTempDirs, silentLogger, tempDataDir } from '../node/helpers.js';

jest.setTimeout(180_000);

const MARKER = 'MARKER-plaintext-7f3a9c';
const nodes = new Set<InfonetNode>();
let spy: NatsConnection | undefined;
afterAll(async () => {
  for (const n of nodes) await n.stop();
  await spy?.close();
  await stopAll();
  removeTempDirs();
});

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

const runCli = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    const env = { ...process.env, INFONET_MLS_PASSPHRASE: 'a test passphrase' };
    execFile(process.execPath, ['--import', 'tsx', join(__dirname, '../../cli/main.ts'), ...args], { cwd: join(__dirname, '../..'), env }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });

test('gate over live nodes: create, invite through the mailbox, accept, post, read, restart, no plaintext leaks', async () => {
  const server = await startServer();
  spy = await connect({ servers: server.clientUrl });
  const traffic: Buffer[] = [];
  spy.subscribe('>', { callback: (_e, m) => { traffic.push(Buffer.from(m.data)); } });

  const idA = generateIdentity();
  const idB = generateIdentity();
  // A sync that times out under load would park the peer for the 120 s default cooldown, past the 30 s sync waits
  // below (B's cycles after its restart have no contact from A to heal it). The cooldown rules have their own tests.
  const env = (peer: string) => ({ MESH_PEER_PUSH_SECRET: 'mls-test-secret', MESH_RELAY_PEERS: busPeerUrl(peer), MESH_RELAY_FAILURE_COOLDOWN_S: '1' });
  const dirA = tempDataDir();
  const dirB = tempDataDir();
  const start = async (dir: string, id: typeof idA, peer: string) => {
    const n = await InfonetNode.start({ dataDir: dir, natsUrl: server.clientUrl, identity: id, logger: silentLogger(), config: resolveConfig({ env: env(peer) }) });
    nodes.add(n);
    return n;
  };
  const a = await start(dirA, idA, idB.nodeId);
  let b = await start(dirB, idB, idA.nodeId);
  const apiA = apiTargetOf(dirA);

  const created = await callApi(apiA, 'gate.create', { gate_id: 'ops', display_name: 'Ops', rules: { invite_only: true }, persona: 'alice' });
  expect(created).toMatchObject({ gate_id: 'ops', epoch: 1 });
  const kp = await requestTyped<Record<string, unknown>>(b.nc, cmdSubject(idB.nodeId, 'gate', 'key_package'), { persona: 'bob' });
  expect(kp).toMatchObject({ persona: 'bob', welcome_dh_pub: expect.stringMatching(/^[0-9a-f]{64}$/) });
  const invited = await callApi(apiA, 'gate.invite', { gate: 'ops', mls_key_package: kp.mls_key_package, welcome_dh_pub: kp.welcome_dh_pub, recipient_id: kp.recipient_id });
  expect(invited.epoch).toBe(2);

  // Bob accepts on B's live API once the Welcome reached B's relay (push or pull from A).
  await waitUntil(async () => ((await callApi(apiTargetOf(dirB), 'gate.accept', { persona: 'bob' })).joined as string[]).includes('ops'), 30_000, 'Bob joins ops');

  const texts = [MARKER, `${MARKER} ${'x'.repeat(200)}`, `${MARKER} ${'y'.repeat(1500)}`];
  for (const text of texts) await callApi(apiA, 'gate.post', { gate: 'ops', text });
  const readOnB = async () => ((await callApi(apiTargetOf(dirB), 'gate.read', { gate: 'ops' })).messages as Array<{ body: string; sender: string }>);
  await waitUntil(async () => {
    await b.inbound!.sync.runCycle();
    return (await readOnB()).length === texts.length;
  }, 30_000, 'B decrypts the posts');
  expect((await readOnB()).map((m) => [m.body, m.sender])).toEqual(texts.map((t) => [t, 'alice']));

  // Stale epoch claim over HTTP: 409 with gate_state_stale.
  await expect(callApi(apiTargetOf(dirB), 'gate.post', { gate: 'ops', text: 'old', epoch: 1 })).rejects.toMatchObject({ code: 'gate_state_stale' });

  // Ciphertexts only take bucket sizes.
  const events = await a.chain.readRange(0, a.chain.length);
  const gateEvents = events.filter((e) => e.event_type === 'gate_message');
  expect(gateEvents.length).toBeGreaterThanOrEqual(4);
  for (const e of gateEvents) {
    const raw = Buffer.from(String(e.payload.ciphertext).slice('mls1:'.length), 'base64');
    expect(PADDING_BUCKETS).toContain(raw.length);
    expect(e.payload).toMatchObject({ format: 'mls1', transport_lock: 'private_strong' });
  }
  expect(events.find((e) => e.event_type === 'gate_create')?.payload).toEqual({ gate_id: 'ops', display_name: 'Ops', rules: { invite_only: true } });

  // Directory over the bus: no plaintext.
  const list = await requestTyped<{ gates: Array<Record<string, unknown>> }>(b.nc, cmdSubject(idB.nodeId, 'gate', 'list'), {});
  expect(list.gates.find((g) => g.gate_id === 'ops')).toMatchObject({ member: true, epoch: 2, member_count: 2, waiting: 0, display_name: 'Ops' });

  // A sync response (private caller: loopback) carries ciphertext only.
  const url = (await a.status()).inbound!.http_url;
  const sync = await (await fetch(`${url}/api/mesh/infonet/sync`)).text();
  expect(sync).toContain('mls1:');
  expect(sync).not.toContain(MARKER);

  // The CLI talks to the live node, and refuses to open a data directory the node owns.
  const cliList = await runCli(['gate', 'list', '--data', dirB]);
  expect(cliList.code).toBe(0);
  expect(JSON.parse(cliList.stdout).gates[0]).toMatchObject({ gate_id: 'ops', member: true });
  const backup = join(dirA, '..', `backup-${process.pid}.json`);
  writeFileSync(backup, '{}');
  const refused = await runCli(['gate', 'import', '--data', dirB, '--in', backup]);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/data directory in use/);

  // Restart B (graceful) — every group restored; Bob still reads, and decrypts a post made while B was down.
  await b.stop();
  nodes.delete(b);
  await callApi(apiA, 'gate.post', { gate: 'ops', text: 'while B was down' });
  b = await start(dirB, idB, idA.nodeId);
  await waitUntil(async () => {
    await b.inbound!.sync.runCycle();
    return (await readOnB()).some((m) => m.body === 'while B was down');
  }, 30_000, 'B reads after restart');
  expect((await readOnB()).filter((m) => m.body.startsWith(MARKER))).toHaveLength(3);

  // No plaintext at rest or on the bus.
  await a.stop();
  await b.stop();
  nodes.clear();
  await spy.flush();
  const marker = Buffer.from(MARKER);
  for (const dir of [dirA, dirB]) {
    for (const f of filesUnder(dir)) expect({ f, hit: readFileSync(f).includes(marker) }).toEqual({ f, hit: false });
  }
  expect(traffic.length).toBeGreaterThan(10);
  expect(traffic.some((t) => t.includes(marker))).toBe(false);
});
