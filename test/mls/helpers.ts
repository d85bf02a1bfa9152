// Test nodes for the MLS owner: each has its own data directory, LevelDB, chain actor and node key; the DM mailbox
// path is one real MailboxRegistry (the relay every node polls), and chains are synchronised by really ingesting
// one node's events into the other (what sync does between nodes).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openChainAt, type OpenedChain } from '../../actors/open-chain.js';
import { MailboxRegistry } from '../../actors/mailbox-registry.js';
import { mlsHostOf, type MlsHost } from '../../mls/host.js';
import { MlsOwner } from '../../mls/mls-owner.js';
import { generateIdentity, type Identity } from '../../protocol/identity.js';
import { defaultSettings } from '../../protocol/settings.js';
import { MailboxStore } from '../../store/mailbox-store.js';
import { MlsStore } from '../../store/mls-store.js';

export interface TestMlsNode {
  name: string;
  dir: string;
  identity: Identity;
  opened: OpenedChain;
  owner: MlsOwner;
  store: MlsStore;
  close(): Promise<void>;
  reopen(): Promise<TestMlsNode>;
}

export class MlsTestBed {
  private dirs: string[] = [];
  private nodes: TestMlsNode[] = [];
  relayOpened?: OpenedChain;
  relay?: MailboxRegistry;

  private async relayRegistry(): Promise<MailboxRegistry> {
    if (this.relay) return this.relay;
    const dir = mkdtempSync(join(tmpdir(), 'mls-relay-'));
    this.dirs.push(dir);
    const s = defaultSettings();
    this.relayOpened = await openChainAt(dir, { settings: s.chain });
    this.relay = await MailboxRegistry.open(new MailboxStore(this.relayOpened.db, this.relayOpened.chain.ledger.store.committer), {
      settings: s.relay, spoolTtlS: s.chain.spool.ttlS,
    });
    return this.relay;
  }

  /** `wrapHost` injects faults (e.g. an append that fails as if the process died right after the state write). */
  async node(name: string, dir = mkdtempSync(join(tmpdir(), `mls-${name}-`)), identity = generateIdentity(), wrapHost?: (h: MlsHost) => MlsHost): Promise<TestMlsNode> {
    if (!this.dirs.includes(dir)) this.dirs.push(dir);
    const relay = await this.relayRegistry();
    const s = defaultSettings();
    const opened = await openChainAt(dir, { settings: s.chain });
    const store = MlsStore.open(opened.db, opened.chain.ledger.store.committer, dir);
    const base = mlsHostOf(opened.chain, identity, relay, () => Date.now() / 1000);
    const host = wrapHost ? wrapHost(base) : base;
    const owner = await MlsOwner.open(store, host);
    let closed = false;
    const n: TestMlsNode = {
      name, dir, identity, opened, owner, store,
      close: async () => {
        if (closed) return;
        closed = true;
        await owner.close();
        await opened.close();
      },
      reopen: async () => {
        await n.close();
        return this.node(name, dir, identity);
      },
    };
    this.nodes.push(n);
    return n;
  }

  /** Every node ingests every other node's chain (all events, in order): the real ingest path. */
  async sync(...nodes: TestMlsNode[]): Promise<void> {
    for (let round = 0; round < 2; round++) {
      for (const a of nodes) {
        for (const b of nodes) {
          if (a === b) continue;
          const events = await a.opened.chain.readRange(0, a.opened.chain.length);
          await b.opened.chain.ingest(events.map((e) => JSON.parse(JSON.stringify(e))));
        }
      }
    }
  }

  async cleanup(): Promise<void> {
    for (const n of this.nodes) await n.close().catch(() => undefined);
    await this.relay?.close().catch(() => undefined);
    await this.relayOpened?.close().catch(() => undefined);
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }
}
