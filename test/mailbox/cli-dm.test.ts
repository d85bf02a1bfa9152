// `infonet dm …` end to end against a data directory: a person seals a DM for a recipient's key,
// deposits it signed with their identity, the recipient polls and opens it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dmCommand } from '../../cli/dm.js';
import { generateIdentity, identityToKeyFile } from '../../protocol/identity.js';
import { checkSealedBytes } from '../../protocol/sealed-bytes.js';
import { removeDir, tempDir } from './helpers.js';

let dir: string;
beforeEach(() => { dir = tempDir('mbx-cli-'); });
afterEach(() => removeDir(dir));

async function run(...args: string[]): Promise<{ code: number; out: any; err: string }> {
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

test('dm keygen → seal → deposit (request) → count → poll → open', async () => {
  const data = join(dir, 'node');
  const bobKey = join(dir, 'bob.dmkey.json');
  expect((await run('keygen', '--out', bobKey)).code).toBe(0);
  const bobPub = JSON.parse(readFileSync(bobKey, 'utf8')).public_key as string;
  const aliceKey = join(dir, 'alice.key.json');
  writeFileSync(aliceKey, JSON.stringify(identityToKeyFile(generateIdentity())));

  const sealed = await run('seal', '--to', bobPub, '--text', 'meet at noon');
  expect(sealed.code).toBe(0);
  expect(checkSealedBytes(sealed.out.ciphertext, 'ciphertext')).toBeNull();

  const dep = await run('deposit', '--data', data, '--key', aliceKey, '--to', 'bob', '--ciphertext', sealed.out.ciphertext, '--msg-id', 'cli-1');
  expect(dep).toMatchObject({ code: 0, out: { ok: true, msg_id: 'cli-1' } });
  expect((await run('count', '--data', data, '--recipient', 'bob', '--token', 'bob-secret')).out).toEqual({ ok: true, count: 1 });
  const polled = await run('poll', '--data', data, '--recipient', 'bob', '--token', 'bob-secret');
  expect(polled.out.messages).toHaveLength(1);
  expect(polled.out.has_more).toBe(false);
  const opened = await run('open', '--key', bobKey, '--ciphertext', polled.out.messages[0].ciphertext);
  expect(opened).toMatchObject({ code: 0, out: { plaintext: 'meet at noon' } });
  expect((await run('poll', '--data', data, '--recipient', 'bob', '--token', 'bob-secret')).out.messages).toEqual([]);
});

test('dm deposit to a shared token; per-sender cap rejection exits 1 with {code, reason}; bad usage exits 2', async () => {
  const data = join(dir, 'node');
  const key = join(dir, 'k.json');
  writeFileSync(key, JSON.stringify(identityToKeyFile(generateIdentity())));
  const ct = 'sealed:' + Buffer.from('x'.repeat(40)).toString('base64');
  for (let i = 0; i < 2; i++) expect((await run('deposit', '--data', data, '--key', key, '--shared-token', 'tok', '--ciphertext', ct)).code).toBe(0);
  const third = await run('deposit', '--data', data, '--key', key, '--shared-token', 'tok', '--ciphertext', ct);
  expect(third.code).toBe(1);
  expect(third.out).toMatchObject({ ok: false, code: 'relay_sender_cap' });
  expect(third.out.reason).toContain('unread');
  expect((await run('count', '--data', data, '--shared-token', 'tok')).out.count).toBe(2);
  const bad = await run('deposit', '--data', data, '--key', key, '--ciphertext', ct);
  expect(bad.code).toBe(2);
  expect(bad.err).toContain('usage:');
  expect((await run('frobnicate')).code).toBe(2);
});

test('dm block/unblock against a data directory (local operator, unsigned): the blocked sender\'s deposit exits 1 with relay_blocked', async () => {
  const data = join(dir, 'node');
  const alice = generateIdentity();
  const key = join(dir, 'alice.key.json');
  writeFileSync(key, JSON.stringify(identityToKeyFile(alice)));
  const ct = 'sealed:' + Buffer.from('y'.repeat(40)).toString('base64');
  const bob = generateIdentity().nodeId;
  expect(await run('block', '--data', data, '--recipient', bob, '--sender', alice.nodeId)).toMatchObject({ code: 0, out: { ok: true, blocked: true } });
  const refused = await run('deposit', '--data', data, '--key', key, '--to', bob, '--ciphertext', ct);
  expect(refused).toMatchObject({ code: 1, out: { ok: false, code: 'relay_blocked', reason: 'Recipient is not accepting your messages' } });
  expect((await run('unblock', '--data', data, '--recipient', bob, '--sender', alice.nodeId)).out).toMatchObject({ blocked: false });
  expect((await run('deposit', '--data', data, '--key', key, '--to', bob, '--ciphertext', ct)).code).toBe(0);
  expect((await run('block', '--data', data, '--recipient', 'x'.repeat(37), '--sender', alice.nodeId)).out).toMatchObject({ ok: false, code: 'bad_input' });
});
