// A single node with its embedded nats-server: commands, events, $SRV discovery, data-directory lock, restart.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { firstValueFrom, take, toArray } from 'rxjs';
import { InfonetClient } from '../../bus/client.js';
import { cmdSubject } from '../../bus/subjects.js';
import { decodeReply } from '../../bus/codec.js';
import { generateIdentity } from '../../protocol/identity.js';
import { InfonetNode, NODE_KEY_FILE } from '../../node/infonet-node.js';
import { messagePayload, removeTempDirs, startNode, tempDataDir } from './helpers.js';
import { waitFor } from '../helpers/nats.js';
import { D } from '../chain/helpers.js';

let node: InfonetNode;
let client: InfonetClient;
const dataDir = tempDataDir();

beforeAll(async () => {
  node = await startNode({ dataDir });
  client = await InfonetClient.connect(node.natsUrl, node.nodeId);
});

afterAll(async () => {
  await client?.close();
  await node?.stop();
  removeTempDirs();
});

test('node key is persisted with mode 600 and names the node on the bus', () => {
  const st = statSync(join(dataDir, NODE_KEY_FILE));
  expect(st.mode & 0o777).toBe(0o600);
  expect(node.nodeId).toMatch(/^!sb_[0-9a-f]+$/);
});

test('status, append, export, events', async () => {
  const s0 = await client.status();
  expect(s0).toMatchObject({ node_id: node.nodeId, height: 0, nats: { embedded: true } });
  const appended = firstValueFrom(client.events$('chain_appended').pipe(take(2), toArray()));
  await client.flush();
  const author = generateIdentity();
  const r1 = await client.appendSigned(author, 'message', messagePayload(1));
  const r2 = await client.appendSigned(author, 'message', messagePayload(2));
  expect(r1.height).toBe(1);
  expect(r2).toMatchObject({ height: 2, head: r2.event.event_id });
  expect(r2.event.prev_hash).toBe(r1.event.event_id);
  const evts = await appended;
  expect(evts.map((e) => e.body.head)).toEqual([r1.head, r2.head]);
  expect(await client.chainStatus()).toEqual({ height: 2, head: r2.head });
  const page = await client.exportPage(0, 1);
  expect(page).toMatchObject({ from: 0, next: 1, height: 2 });
  expect(page.events[0].event_id).toBe(r1.head);
  expect((await client.exportAll()).map((e) => e.event_id)).toEqual([r1.head, r2.head]);
});

test('rejections are typed errors and published as events', async () => {
  const rejected = firstValueFrom(client.events$('rejected'));
  await client.flush();
  const author = generateIdentity();
  await expect(client.appendSigned(author, 'message', messagePayload(1), { sequence: 0 })).rejects.toMatchObject({ code: expect.any(String) });
  expect((await rejected).body).toMatchObject({ command: 'chain.append' });
  await expect(client.request('chain.export', { limit: 501 })).rejects.toMatchObject({ code: 'bad_input' });
  const raw = await client.nc.request(cmdSubject(node.nodeId, 'dm', 'poll'), new Uint8Array([0xc1]));
  const env = decodeReply(raw.data);
  expect(env.ok && !env.value.ok && env.value.error.code).toBe('bad_input');
});

test('DM deposit, count, poll via the mailbox actors; events published', async () => {
  const deposited = firstValueFrom(client.events$('dm_deposited'));
  const claimed = firstValueFrom(client.events$('dm_claimed'));
  await client.flush();
  const claims = [{ type: 'shared', token: 'tok-1' }];
  const r = await client.dmDeposit({ sender_id: 'alice', ciphertext: 'c2VhbGVk', delivery_class: 'shared', recipient_token: 'tok-1', msg_id: 'm1' });
  expect(r).toEqual({ ok: true, msg_id: 'm1' });
  expect((await deposited).body).toMatchObject({ msg_id: 'm1', delivery_class: 'shared' });
  const bob = generateIdentity(); // mailbox reads are signed by the agent (issue 8)
  expect(await client.dmCount(bob, claims)).toEqual({ count: 1 });
  expect(await client.dmPendingIds(bob, claims)).toEqual({ msg_ids: ['m1'] });
  const polled = await client.dmPoll(bob, claims);
  expect(polled.messages.map((m) => m.msg_id)).toEqual(['m1']);
  expect((await claimed).body).toMatchObject({ msg_id: 'm1' });
  expect(await client.dmCount(bob, claims)).toEqual({ count: 0 });
});

test('discoverable through $SRV.PING / INFO', async () => {
  const found = await InfonetClient.discover(client.nc, 500);
  expect(found.map((f) => f.node_id)).toContain(node.nodeId);
  const info = JSON.parse(new TextDecoder().decode((await client.nc.request('$SRV.INFO.infonet')).data));
  expect(info.metadata.node_id).toBe(node.nodeId);
  expect(info.endpoints.map((e: { subject: string }) => e.subject)).toContain(cmdSubject(node.nodeId, 'chain', 'append'));
});

test('a second node on the same data directory fails with "data directory in use"', async () => {
  await expect(startNode({ dataDir })).rejects.toThrow(/data directory in use/);
});

test('restart keeps the chain, the node id and reports a clean previous run', async () => {
  const dir = tempDataDir();
  const a = await startNode({ dataDir: dir });
  const c = await InfonetClient.connect(a.natsUrl, a.nodeId);
  const r = await c.appendSigned(generateIdentity(), 'message', messagePayload(7));
  await c.close();
  const id = a.nodeId;
  await a.stop();
  const b = await startNode({ dataDir: dir });
  try {
    expect(b.nodeId).toBe(id);
    const s = await b.status();
    expect(s).toMatchObject({ height: 1, head: r.head, previous_run: { clean_stop: true, height: 1 } });
  } finally {
    await b.stop();
  }
});

test('a dm_message appended through the bus is hydrated into the recipient mailbox once (§7.7)', async () => {
  const dir = tempDataDir();
  const a = await startNode({ dataDir: dir });
  const c = await InfonetClient.connect(a.natsUrl, a.nodeId);
  const claims = [{ type: 'requests', token: 'recipient-z-token' }];
  const z = generateIdentity();
  try {
    await c.appendSigned(generateIdentity(), 'dm_message', D(z.nodeId, 'dm-h1', Date.now() / 1000));
    await waitFor(async () => (await c.dmCount(z, claims)).count === 1, 5000, { what: 'hydrated DM' });
    const polled = await c.dmPoll(z, claims);
    expect(polled.messages.map((m) => m.msg_id)).toEqual(['dm-h1']);
  } finally {
    await c.close();
    await a.stop();
  }
  const b = await startNode({ dataDir: dir }); // start-up hydration of the whole chain must not re-deliver it
  try {
    expect(await b.mailboxes.count(z.nodeId, claims)).toBe(0);
  } finally {
    await b.stop();
  }
});
