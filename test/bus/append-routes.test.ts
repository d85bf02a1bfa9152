// Issue 9: three append routes on the bus. chain.append is the public path (§2.8) and refuses private types with
// the spec's reason; chain.append_gate (§4.5) and chain.append_dm (§5.6) take only their own type.
import { randomBytes } from 'node:crypto';
import { InfonetClient } from '../../bus/client.js';
import { generateIdentity } from '../../protocol/identity.js';
import { signAppend } from '../../protocol/local-sign.js';
import type { InfonetNode } from '../../node/infonet-node.js';
import { messagePayload, removeTempDirs, startNode } from '../node/helpers.js';

let node: InfonetNode;
let client: InfonetClient;
const author = generateIdentity();
const now = () => Date.now() / 1000;

beforeAll(async () => {
  node = await startNode();
  client = await InfonetClient.connect(node.natsUrl, node.nodeId);
});
afterAll(async () => {
  await client?.close();
  await node?.stop();
  removeTempDirs();
});

test('the public path refuses gate_message and dm_message with `Unsupported event_type: <type>`; nothing is appended', async () => {
  for (const type of ['gate_message', 'dm_message']) {
    const ev = signAppend(author, type, { anything: 1 }, 1, now());
    await expect(client.append(ev)).rejects.toMatchObject({ reason: `Unsupported event_type: ${type}` });
  }
  expect(node.chain.length).toBe(0);
});

test('each private path takes only its own type; the public path takes public types', async () => {
  const msg = signAppend(author, 'message', messagePayload(1), 1, now());
  await expect(client.appendGate(msg)).rejects.toMatchObject({ code: expect.any(String) });
  await expect(client.appendDm(msg)).rejects.toMatchObject({ code: expect.any(String) });
  expect(node.chain.length).toBe(0);
  const r = await client.append(msg);
  expect(r.height).toBe(1);
});

test('bodies are schema-checked: a wrong type is BAD_INPUT naming the field, on every append route', async () => {
  for (const name of ['chain.append', 'chain.append_gate', 'chain.append_dm'] as const) {
    const bad = { ...signAppend(author, 'message', messagePayload(2), 2, now()), node_id: { toString: 1 } };
    await expect(client.request(name, bad as never)).rejects.toMatchObject({ code: 'bad_input', reason: 'node_id is required and must be a string' });
    const noPayload: Record<string, unknown> = { ...signAppend(author, 'message', messagePayload(2), 2, now()) };
    delete noPayload.payload;
    await expect(client.request(name, noPayload as never)).rejects.toMatchObject({ code: 'bad_input', reason: 'payload is required' });
  }
  await expect(client.request('chain.export', { limit: 501 })).rejects.toMatchObject({ reason: 'limit must be an integer in 1..500' });
  await expect(client.request('chain.ingest', { events: 'x' } as never)).rejects.toMatchObject({ reason: 'events must be a list' });
  await expect(client.request('dm.deposit', { sender_id: 's', ciphertext: randomBytes(4), delivery_class: 'shared' } as never))
    .rejects.toMatchObject({ reason: 'ciphertext is required and must be a string' });
  expect(node.chain.length).toBe(1);
});
