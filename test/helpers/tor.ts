// One private Tor network per jest run, shared by every onion test file (it costs ~35–65 s and ~0.7 GB, so never
// one per file). test/onion/global-setup.ts only names a directory (INFONET_TOR_NET_DIR); the first onion test
// file that needs the network starts it there (an atomic mkdir decides which worker), the others wait for its
// network.json to say "ready", and test/onion/global-teardown.ts stops it by pid. A run without onion tests
// therefore starts no tor at all. Run alone (no global setup), a file starts and stops its own network.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readNetworkInfo, startTorNetwork, stopTorNetwork, type TorNetworkInfo } from '../../harness/tor-network.js';
import { waitUntil } from '../../harness/wait.js';
import { hasTor } from '../../transports/onion/tor-process.js';

export const TOR_AVAILABLE = hasTor();
export const NETWORK_WAIT_MS = 240_000;

if (!TOR_AVAILABLE) {
  // eslint-disable-next-line no-console
  console.warn('test/onion: tor / tor-gencert not installed (apt-get install -y tor): real-Tor tests skipped');
}

/** `test` when tor is installed, else `test.skip` (with the warning above). */
export const withTor: jest.It = TOR_AVAILABLE ? test : test.skip;

let own: { info: TorNetworkInfo; stop: () => Promise<void> } | null = null;

export async function sharedTorNetwork(): Promise<TorNetworkInfo> {
  const shared = process.env.INFONET_TOR_NET_DIR;
  if (!shared) {
    if (!own) {
      const net = await startTorNetwork({ dir: mkdtempSync(join(tmpdir(), 'infonet-tor-')) });
      own = { info: net, stop: async () => { await net.stop(); rmSync(net.dir, { recursive: true, force: true }); } };
    }
    return own.info;
  }
  let starter = false;
  try {
    mkdirSync(`${shared}.lock`);
    starter = true;
  } catch {
    // another worker starts it
  }
  if (starter) {
    await startTorNetwork({ dir: shared });
  }
  return waitUntil(() => {
    const info = readNetworkInfo(shared);
    return info?.readyAfterMs !== undefined ? info : null;
  }, NETWORK_WAIT_MS, `the shared tor network in ${shared}`, 500);
}

/** Stops a network this process started on its own (no global setup). Shared networks are left to the teardown. */
export async function releaseTorNetwork(): Promise<void> {
  await own?.stop();
  own = null;
}

export { stopTorNetwork };
