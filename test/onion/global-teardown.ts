// Stops this run's private Tor network, if an onion test started one.
import { rmSync } from 'node:fs';
import { readNetworkInfo, stopTorNetwork } from '../../harness/tor-network.js';

export default async function globalTeardown(): Promise<void> {
  const dir = process.env.INFONET_TOR_NET_DIR;
  if (!dir) return;
  const info = readNetworkInfo(dir);
  if (info) await stopTorNetwork(info);
  rmSync(dir, { recursive: true, force: true });
  rmSync(`${dir}.lock`, { recursive: true, force: true });
}
