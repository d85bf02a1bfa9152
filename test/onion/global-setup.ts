// Names the directory of this jest run's private Tor network; nothing starts here (see test/helpers/tor.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function globalSetup(): void {
  const dir = mkdtempSync(join(tmpdir(), 'infonet-tor-net-'));
  rmSync(dir, { recursive: true, force: true }); // the starter recreates it (mode 700); the name stays reserved to us
  process.env.INFONET_TOR_NET_DIR = dir;
}
