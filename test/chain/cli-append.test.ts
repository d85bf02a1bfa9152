// The three append routes on the command line (§2.8, §4.5, §5.6): `chain append` is the public path and
// refuses private types with `Unsupported event_type: <type>`; `append-gate` / `append-dm` take only
// their own type. Export then validate closes the loop.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { identityToKeyFile } from '../../protocol/identity.js';
import { D, G, K1, M } from './helpers.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'infonet-cli-append-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { cwd: join(__dirname, '../..') });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
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
  expect(valid.stdout).toMatch(/^valid: 3 events, head [0-9a-f]{64}/);
});
