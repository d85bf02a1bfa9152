// The three append routes on the command line (§2.8, §4.5, §5.6): `chain append` is the public path and
// refuses private types with `Unsupported event_type: <type>`; `append-gate` / `append-dm` take only
// their own type. Export then validate closes the loop.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openChainAt } from '../../actors/open-chain.js';
import { chainCommand } from '../../cli/chain.js';
import { defaultSettings } from '../../protocol/settings.js';
import { identityToKeyFile } from '../../protocol/identity.js';
import { D, G, K1, M } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'infonet-cli-append-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `infonet <args>` in-process (the chain commands; test/node/corrupt-store.test.ts runs the real binary). */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  expect(args[0]).toBe('chain');
  const out: string[] = [];
  const err: string[] = [];
  const so = jest.spyOn(process.stdout, 'write').mockImplementation((s) => { out.push(String(s)); return true; });
  const se = jest.spyOn(process.stderr, 'write').mockImplementation((s) => { err.push(String(s)); return true; });
  try {
    const code = await chainCommand(args.slice(1));
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    so.mockRestore();
    se.mockRestore();
  }
}

test('chain append (public), append-gate and append-dm each take only their own types', async () => {
  const data = join(dir, 'data');
  const key = join(dir, 'k1.json');
  writeFileSync(key, JSON.stringify(identityToKeyFile(K1)));
  const base = ['--data', data, '--key', key];

  const pub = await cli('chain', 'append', ...base, '--type', 'message', '--payload', JSON.stringify(M('hello')));
  expect(pub.code).toBe(0);
  expect(JSON.parse(pub.stdout)).toMatchObject({ event_type: 'message', sequence: 1 });

  const gateViaPublic = await cli('chain', 'append', ...base, '--type', 'gate_message', '--payload', JSON.stringify(G(1)));
  expect(gateViaPublic.code).toBe(1);
  expect(gateViaPublic.stderr.trim()).toBe('rejected: Unsupported event_type: gate_message');

  const gate = await cli('chain', 'append-gate', ...base, '--payload', JSON.stringify(G(1)));
  expect(gate.code).toBe(0);
  expect(JSON.parse(gate.stdout)).toMatchObject({ event_type: 'gate_message', sequence: 1 });

  const dm = await cli('chain', 'append-dm', ...base, '--payload', JSON.stringify(D('recipient-a', 'dm-1', Date.now() / 1000)), '--sequence', '3');
  expect(dm.code).toBe(0);
  expect(JSON.parse(dm.stdout)).toMatchObject({ event_type: 'dm_message', sequence: 3 });

  const out = join(dir, 'chain.json');
  expect((await cli('chain', 'export', '--data', data, '--out', out)).code).toBe(0);
  const valid = await cli('chain', 'validate', out);
  expect(valid.stdout).toMatch(/^valid: 3 events, head [0-9a-f]{64}\n$/);
  // The incremental variant (§2.7): a checkpoint, then the same verdict from it.
  const state = join(dir, 'checkpoint');
  expect((await cli('chain', 'validate', out, '--state', state)).stdout).toBe(valid.stdout);
  expect((await cli('chain', 'validate', out, '--state', state)).stdout).toBe(valid.stdout.replace('\n', ' (incremental from index 3)\n'));
});

test('chain export --data works on a snapshot while a node holds the store', async () => {
  const data = join(dir, 'held');
  const held = await openChainAt(data, { settings: defaultSettings().chain });
  try {
    await held.chain.appendLocal(K1, 'message', M('one'));
    await held.chain.appendLocal(K1, 'message', M('two'));
    const r = await cli('chain', 'export', '--data', data);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as unknown[]).length).toBe(2);
    await held.chain.appendLocal(K1, 'message', M('three')); // the holder is undisturbed
    expect(held.chain.length).toBe(3);
  } finally {
    await held.close();
  }
});
