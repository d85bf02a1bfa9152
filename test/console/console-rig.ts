// Shared set-up of the console browser tests: two real nodes on one real nats-server peered over the bus (each
// replicates to the other), the nodes to stop afterwards, and keyboard navigation to a page link.
import type { Browser, Page } from 'playwright-core';
import type { InfonetClient } from '../../bus/client.js';
import { startServer, stopAll } from '../helpers/nats.js';
import { removeTempDirs, tempDataDir } from '../node/helpers.js';
import { generateIdentity } from '../../protocol/identity.js';
import { resolveConfig } from '../../node/config.js';
import { InfonetNode } from '../../node/infonet-node.js';
import type { Identity } from '../../protocol/identity.js';
import { busPeerUrl } from '../../transports/bus-peer-protocol.js';
import { silentLogger } from '../node/helpers.js';

/** Nodes, browser and bus client a test file started; stopConsoleRigAfterAll() ends them. */
export const consoleNodes: InfonetNode[] = [];
export const rig: { browser?: Browser; client?: InfonetClient } = {};

export function stopConsoleRigAfterAll(): void {
  afterAll(async () => {
    await rig.browser?.close();
    await rig.client?.close();
    for (const n of consoleNodes) await n.stop();
    await stopAll();
    removeTempDirs();
  });
}

/** A fresh nats-server and nodes A and B on it, each the other's replication peer over the bus. */
export async function startPeeredPair(prefix: string) {
  const server = await startServer();
  const idA = generateIdentity();
  const idB = generateIdentity();
  const dirA = tempDataDir(prefix);
  const dirB = tempDataDir(prefix);
  const a = await startBusPeered(server.clientUrl, dirA, idA, idB.nodeId);
  const b = await startBusPeered(server.clientUrl, dirB, idB, idA.nodeId);
  return { server, idA, idB, dirA, dirB, a, b };
}

/** Starts a node on `natsUrl` whose replication peer is `peer` (a node id, reached over the bus). */
export async function startBusPeered(natsUrl: string, dataDir: string, identity: Identity, peer: string): Promise<InfonetNode> {
  const config = resolveConfig({ env: { MESH_PEER_PUSH_SECRET: 'console-test-secret', MESH_RELAY_PEERS: busPeerUrl(peer) } });
  const n = await InfonetNode.start({ dataDir, natsUrl, identity, logger: silentLogger(), config });
  consoleNodes.push(n);
  return n;
}

/** Presses Tab until the focused element's text is `label` (at most 10 presses); true when it got there. */
export async function tabTo(page: Page, label: string): Promise<boolean> {
  for (let i = 0; i < 10; i++) {
    await page.keyboard.press('Tab');
    const text = await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { textContent: string } | null } }).document.activeElement?.textContent);
    if (text === label) return true;
  }
  return false;
}
