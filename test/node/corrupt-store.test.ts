// A node refuses a chain store that fails its integrity check (naming the first bad height) and, only
// when told to (--quarantine-corrupt), moves it aside and starts from genesis (spec §3.2.1, T74).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { openChainAt } from '../../actors/open-chain.js';
import { resolveConfig } from '../../node/config.js';
import { generateIdentity } from '../../protocol/identity.js';
import { defaultSettings } from '../../protocol/settings.js';
import { heightKey, sublevel } from '../../store/db.js';
import { startServer, type TestServer } from '../helpers/nats.js';
import { messagePayload, removeTempDirs, startNode, tempDataDir } from './helpers.js';

let nats: TestServer;
beforeAll(async () => { nats = await startServer(); });
afterAll(async () => { await nats.stop(); removeTempDirs(); });

test('a corrupt store is refused with the bad height; --quarantine-corrupt moves it aside and starts at genesis', async () => {
  const dataDir = tempDataDir();
  const author = generateIdentity();
  const { db, chain } = await openChainAt(dataDir, { settings: defaultSettings().chain });
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
