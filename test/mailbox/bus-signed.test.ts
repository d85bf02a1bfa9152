// Issue 8 item 1 over the real bus: a running node (embedded, authenticated nats-server) refuses unsigned mailbox
// reads, another agent's key, replays; the CLI signs with --key; a block sent with the CLI refuses the sender.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dmCommand } from '../../cli/dm.js';
import { InfonetClient } from '../../bus/client.js';
import type { InfonetNode } from '../../node/infonet-node.js';
import { generateIdentity, identityToKeyFile, type Identity } from '../../protocol/identity.js';
import { signMailboxRequest } from '../../protocol/mailbox-access.js';
import { makeSenderProof } from '../../protocol/dm-sender-proof.js';
import { sha256Hex } from '../../protocol/mailbox-keys.js';
import { removeTempDirs, sealed, startNode } from '../node/helpers.js';
import { tempDir, removeDir } from './helpers.js';

let node: InfonetNode;
let client: InfonetClient;
let dir: string;
const bob = generateIdentity();
const alice = generateIdentity();
const mallory = generateIdentity();
const TOKEN = 'bob-secret';
const claims = [{ type: 'requests', token: TOKEN }];

beforeAll(async () => {
  node = await startNode();
  client = await InfonetClient.connect(node.natsUrl, node.nodeId);
  dir = tempDir('mbx-bus-');
});
afterAll(async () => {
  await client?.close();
  await node?.stop();
  removeTempDirs();
  removeDir(dir);
});

function keyFile(id: Identity): string {
  const p = join(dir, `${id.nodeId.slice(4, 12)}.key.json`);
  writeFileSync(p, JSON.stringify(identityToKeyFile(id)));
  return p;
}

async function cli(...args: string[]): Promise<{ code: number; out: any; err: string }> {
  let out = '';
  let err = '';
  const o = jest.spyOn(process.stdout, 'write').mockImplementation((s: any) => { out += String(s); return true; });
  const e = jest.spyOn(process.stderr, 'write').mockImplementation((s: any) => { err += String(s); return true; });
  try {
    const code = await dmCommand(args);
    return { code, out: out ? JSON.parse(out) : undefined, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

const depositForBob = (from: Identity = alice) => {
  const ciphertext = sealed();
  const msgId = `m-${Math.random().toString(16).slice(2)}`;
  const target = { delivery_class: 'request', recipient_id: bob.nodeId };
  return client.dmDeposit({
    sender_id: from.nodeId, ciphertext, msg_id: msgId, sender_token_hash: sha256Hex(`s|${from.nodeId}`), ...target,
    sender_proof: makeSenderProof(from.seed, { ...target, msg_id: msgId, ciphertext }),
  });
};
const bobCount = async () => (await client.dmCount(bob, claims)).count;

test('the issue 8 reproduction over the bus: unsigned, another key, replayed → typed errors; Bob\'s mailbox unchanged', async () => {
  await depositForBob();
  expect(await bobCount()).toBe(1);
  // The old, unsigned body.
  await expect(client.request('dm.poll', { agent_id: bob.nodeId, claims: [{ type: 'requests', token: 'not-bobs' }] } as never)).rejects.toMatchObject({ code: 'missing_signature_fields' });
  // Mallory's key naming Bob.
  const forged = { ...signMailboxRequest(mallory, 'poll', { claims, timestamp: Date.now() / 1000, nonce: 'x' }), agent_id: bob.nodeId };
  await expect(client.request('dm.poll', forged)).rejects.toMatchObject({ code: 'node_id_mismatch' });
  await expect(client.request('dm.count', { ...forged, public_key: bob.publicKey })).rejects.toMatchObject({ reason: 'Invalid signature' });
  // Bob's own request, replayed.
  const once = signMailboxRequest(bob, 'count', { claims, timestamp: Date.now() / 1000, nonce: 'bob-once' });
  expect(await client.request('dm.count', once)).toEqual({ count: 1 });
  await expect(client.request('dm.count', once)).rejects.toMatchObject({ code: 'nonce', reason: 'nonce replay detected' });
  expect(await bobCount()).toBe(1);
});

test('CLI: poll/count over --nats need --key; Mallory\'s key opens only her own mailbox; Bob\'s key reads his mail; block refuses the sender', async () => {
  // the node's bus is authenticated (docs/bus-auth.md): the CLI connects with the node's operator credential
  const where = ['--nats', node.natsUrl, '--creds', join(node.dataDir, 'nats', 'auth', 'operator.nk'), '--node', node.nodeId];
  const before = await bobCount();
  const unsigned = await cli('poll', ...where, '--recipient', bob.nodeId, '--token', 'not-bobs');
  expect(unsigned.code).toBe(2);
  expect(unsigned.err).toContain('--key');
  const asBob = await cli('poll', ...where, '--key', keyFile(mallory), '--recipient', bob.nodeId, '--token', TOKEN);
  expect(asBob.code).toBe(2); // --recipient must be the key's own id
  const own = await cli('poll', ...where, '--key', keyFile(mallory), '--token', TOKEN);
  expect(own).toMatchObject({ code: 0, out: { ok: true, messages: [] } });
  expect(await bobCount()).toBe(before);

  expect((await cli('count', ...where, '--key', keyFile(bob), '--token', TOKEN)).out).toEqual({ ok: true, count: before });
  const ids = await cli('pending-ids', ...where, '--key', keyFile(bob), '--token', TOKEN);
  expect(ids.out.msg_ids).toHaveLength(before);
  const polled = await cli('poll', ...where, '--key', keyFile(bob), '--token', TOKEN);
  expect(polled.out.messages).toHaveLength(before);
  expect(await bobCount()).toBe(0);

  expect(await cli('block', ...where, '--key', keyFile(bob), '--sender', alice.nodeId)).toMatchObject({ code: 0, out: { ok: true, blocked: true } });
  await expect(depositForBob(alice)).rejects.toMatchObject({ code: 'relay_blocked', reason: 'Recipient is not accepting your messages' });
  expect((await depositForBob(mallory)).ok).toBe(true);
  expect(await cli('unblock', ...where, '--key', keyFile(bob), '--sender', alice.nodeId)).toMatchObject({ code: 0, out: { blocked: false } });
  expect((await depositForBob(alice)).ok).toBe(true);
});
