// A store never wipes itself (issue 8 item 2, spec §3.2.1, T74): a store that fails its integrity
// check or that LevelDB cannot read is refused with the cause in one line and every file kept; only
// --quarantine-corrupt moves it aside (never deletes it) and starts fresh; read-only commands leave the
// store untouched.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync, truncateSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { openChainAt } from '../../actors/open-chain.js';
import { resolveConfig } from '../../node/config.js';
import { generateIdentity } from '../../protocol/identity.js';
import { isInfonetError } from '../../protocol/errors.js';
import { defaultSettings } from '../../protocol/settings.js';
import { heightKey, STORE_MARKER, sublevel } from '../../store/db.js';
import { startServer, type TestServer } from '../helpers/nats.js';
import { messagePayload, removeTempDirs, startNode, tempDataDir } from './helpers.js';

const run = promisify(execFile);
// Tests here wait on `infonet` CLI children (tsx compiles the CLI at each start): two of them outlasted jest's 60 s
// default at load 30 on 2 cores. The bound only guards a stuck child.
jest.setTimeout(180_000);
const settings = defaultSettings().chain;

let nats: TestServer;
beforeAll(async () => { nats = await startServer(); });
afterAll(async () => { await nats.stop(); removeTempDirs(); });

/** A store with `n` events, closed and reopened once so LevelDB has written its log into a table file. */
async function storeWith(n: number): Promise<string> {
  const dataDir = tempDataDir();
  const author = generateIdentity();
  const a = await openChainAt(dataDir, { settings });
  for (let i = 0; i < n; i++) await a.chain.appendLocal(author, 'message', messagePayload(i));
  await a.close();
  const b = await openChainAt(dataDir, { settings });
  expect(b.chain.length).toBe(n);
  await b.close();
  return dataDir;
}

/** The store's files with size and mtime (LevelDB's own info log and lock file aside). */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of readdirSync(dir)) {
    if (f === 'LOCK' || f.startsWith('LOG')) continue;
    const s = statSync(join(dir, f));
    out.set(f, `${s.size}:${s.mtimeMs}`);
  }
  return out;
}

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { cwd: join(__dirname, '../..') });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

test('T74 a corrupt store is refused with the bad height; --quarantine-corrupt moves it aside and starts at genesis', async () => {
  const dataDir = tempDataDir();
  const author = generateIdentity();
  const { db, chain } = await openChainAt(dataDir, { settings });
  for (let i = 0; i < 3; i++) await chain.appendLocal(author, 'message', messagePayload(i));
  const [, second] = await chain.readRange(0, 2);
  await chain.stop();
  await sublevel(db, 'chain-ev').put(heightKey(1), { ...second, payload: { ...second.payload, message: 'tampered' } });
  await db.close();

  await expect(startNode({ dataDir, natsUrl: nats.clientUrl })).rejects.toThrow(/integrity check failed at height 1/);
  expect(readdirSync(dataDir).some((f) => f.startsWith('db.quarantine.'))).toBe(false);

  const config = resolveConfig({ env: {}, flags: { quarantineCorrupt: 'true' } });
  const node = await startNode({ dataDir, natsUrl: nats.clientUrl, config });
  try {
    expect(node.chain.length).toBe(0);
    expect(readdirSync(dataDir).filter((f) => f.startsWith('db.quarantine.'))).toHaveLength(1);
    expect(existsSync(join(dataDir, 'db'))).toBe(true);
  } finally {
    await node.stop();
  }
});

const CORRUPTIONS: Array<{ name: string; damage: (db: string) => string; cause: RegExp }> = [
  {
    name: 'db/CURRENT removed',
    damage: (db) => { unlinkSync(join(db, 'CURRENT')); return 'CURRENT'; },
    cause: /does not exist.*\(db\/CURRENT is missing\)/,
  },
  {
    name: 'a table file truncated',
    damage: (db) => {
      const table = readdirSync(db).find((f) => /\.(ldb|sst)$/.test(f))!;
      truncateSync(join(db, table), Math.floor(statSync(join(db, table)).size / 2));
      return '';
    },
    cause: /(IO error|Corruption).*\.(ldb|sst)/,
  },
  {
    name: 'MANIFEST removed',
    damage: (db) => {
      const manifest = readdirSync(db).find((f) => f.startsWith('MANIFEST-'))!;
      unlinkSync(join(db, manifest));
      return manifest;
    },
    cause: /MANIFEST-\d+: No such file or directory/,
  },
];

describe.each(CORRUPTIONS)('an unreadable store ($name)', ({ damage, cause }) => {
  test('is refused naming the LevelDB cause in one line, every file kept; --quarantine-corrupt moves it aside and starts fresh', async () => {
    const dataDir = await storeWith(40);
    const dbDir = join(dataDir, 'db');
    const removed = damage(dbDir);
    const before = snapshot(dbDir);
    expect(before.has(STORE_MARKER)).toBe(true);

    // The command line: non-zero exit, the cause on one line, no stack trace.
    const r = await cli('chain', 'export', '--data', dataDir);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(cause);
    expect(r.stderr).not.toMatch(/\n\s+at /);

    // A node (read-write open) refuses it too, and nothing was created in its place.
    let refused: unknown;
    try {
      await (await openChainAt(dataDir, { settings })).close();
    } catch (e) {
      refused = e;
    }
    expect(isInfonetError(refused) && refused.code).toBe('store_corrupt');
    expect(isInfonetError(refused) && refused.reason).toMatch(cause);
    const after = snapshot(dbDir);
    // Where LevelDB refuses at open, not a file changed; where it opens and then fails to read a table,
    // its recovery may have rewritten the manifest and log, but every table and our marker are intact.
    if (removed) expect(after).toEqual(before);
    for (const f of before.keys()) if (/\.(ldb|sst)$/.test(f) || f === STORE_MARKER) expect(after.get(f)).toBe(before.get(f));
    expect(readdirSync(dataDir).some((f) => f.startsWith('db.quarantine.'))).toBe(false);

    // Told to quarantine: the old store is moved aside whole, a fresh one starts at genesis.
    const q = await openChainAt(dataDir, { settings, quarantineCorrupt: true });
    try {
      expect(q.chain.length).toBe(0);
      expect(q.quarantined).toBeDefined();
      const aside = readdirSync(q.quarantined!);
      for (const f of before.keys()) if (/\.(ldb|sst)$/.test(f) || f === STORE_MARKER) expect(aside).toContain(f);
    } finally {
      await q.close();
    }
  });
});

test('chain export on a data dir never modifies the store', async () => {
  const dataDir = await storeWith(25);
  const dbDir = join(dataDir, 'db');
  const before = snapshot(dbDir);
  const r = await cli('chain', 'export', '--data', dataDir);
  expect(r.code).toBe(0);
  expect((JSON.parse(r.stdout) as unknown[]).length).toBe(25);
  expect(snapshot(dbDir)).toEqual(before);
  // A data dir without a store is refused, not created.
  const empty = tempDataDir();
  const none = await cli('chain', 'export', '--data', empty);
  expect(none.code).not.toBe(0);
  expect(none.stderr).toMatch(/no infonet store/);
  expect(existsSync(join(empty, 'db'))).toBe(false);
});
