// bin/infonet.js: the streaming chain commands re-run themselves with MALLOC_ARENA_MAX=2 (glibc arenas, issue 14),
// everything else runs as it is; through the re-run the command's output and exit code are the user's.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mallocArenaEnv } from '../../bin/malloc-arena.js';

const ROOT = join(__dirname, '..', '..');

test('chain export, validate and ingest get MALLOC_ARENA_MAX=2 unless it is set; other commands run as they are', () => {
  for (const sub of ['export', 'validate', 'ingest']) {
    expect(mallocArenaEnv(['chain', sub, 'x.json'], { PATH: '/bin' })).toEqual({ PATH: '/bin', MALLOC_ARENA_MAX: '2' });
    expect(mallocArenaEnv(['chain', sub, 'x.json'], { MALLOC_ARENA_MAX: '8' })).toBeNull();
  }
  for (const args of [['chain', 'append'], ['node', 'run'], ['status'], []]) expect(mallocArenaEnv(args, {})).toBeNull();
});

test('through the re-run, chain validate answers and exits as the command does (0 valid, 2 unreadable)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'infonet-launcher-'));
  const empty = join(dir, 'empty.json');
  writeFileSync(empty, '[]');
  const env = { ...process.env };
  delete env.MALLOC_ARENA_MAX;
  const ok = spawnSync(process.execPath, ['bin/infonet.js', 'chain', 'validate', empty], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
  expect({ status: ok.status, out: ok.stdout }).toMatchObject({ status: 0, out: expect.stringContaining('valid: 0 events') });
  const bad = spawnSync(process.execPath, ['bin/infonet.js', 'chain', 'validate', join(dir, 'missing.json')], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
  expect({ status: bad.status, err: bad.stderr }).toMatchObject({ status: 2, err: expect.stringContaining('cannot read') });
}, 90_000);
