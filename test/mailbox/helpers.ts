// Shared fixtures for the mailbox tests: real LevelDB dirs under os.tmpdir(), a manual clock, and
// hand-built dm_message chain events (the hydration needs only the event fields, §7.7).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, createHash } from 'node:crypto';
import { MailboxRegistry } from '../../actors/mailbox-registry.js';
import { MailboxAccess } from '../../actors/mailbox-access.js';
import { openChainAt, type OpenedChain } from '../../actors/open-chain.js';
import { manualClock } from '../../protocol/clock.js';
import type { ChainEvent } from '../../protocol/event.js';
import { loadSettings, type Env } from '../../protocol/settings.js';
import { openDatabase, type Db } from '../../store/db.js';
import { MailboxStore } from '../../store/mailbox-store.js';

export const K1_NODE_ID = '!sb_56475aa75463474c0285df5dbf2bcab7';
export const K1_PUBLIC_KEY = 'A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=';
export const K1_SEED = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
export const T0 = 1_700_000_000;

export const b64 = (s: string | Uint8Array): string => Buffer.from(s).toString('base64');
export const sealedLike = (): string => b64(randomBytes(48));

export function tempDir(prefix = 'mbx-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface Relay {
  dir: string;
  db: Db;
  store: MailboxStore;
  registry: MailboxRegistry;
  clock: ReturnType<typeof manualClock>;
  close(): Promise<void>;
  reopen(): Promise<Relay>;
}

export async function openRelay(opts: { dir?: string; env?: Env; now?: number; clock?: ReturnType<typeof manualClock>; maxLive?: number } = {}): Promise<Relay> {
  const dir = opts.dir ?? tempDir();
  const clock = opts.clock ?? manualClock(opts.now ?? T0);
  const settings = loadSettings(opts.env ?? {});
  const db = await openDatabase(dir);
  const store = new MailboxStore(db);
  const registry = await MailboxRegistry.open(store, {
    settings: settings.relay, spoolTtlS: settings.chain.spool.ttlS, clock, ...(opts.maxLive ? { maxLive: opts.maxLive } : {}),
  });
  const relay: Relay = {
    dir, db, store, registry, clock,
    async close() {
      await registry.close();
      await db.close();
    },
    async reopen() {
      await relay.close();
      return openRelay({ ...opts, dir, clock });
    },
  };
  return relay;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** `D(r, id)` of §12 as an accepted dm_message chain event by K1 (ids need not be real hashes here). */
export function dmEvent(
  msgId: string,
  opts: { recipientId?: string; now?: number; nodeId?: string; eventId?: string; ciphertext?: string; deliveryClass?: string; token?: string } = {},
): ChainEvent {
  const now = opts.now ?? T0;
  const eventId = opts.eventId ?? createHash('sha256').update(`event|${msgId}|${opts.nodeId ?? K1_NODE_ID}`).digest('hex');
  return {
    event_id: eventId,
    prev_hash: '0'.repeat(64),
    event_type: 'dm_message',
    node_id: opts.nodeId ?? K1_NODE_ID,
    payload: {
      recipient_id: opts.recipientId ?? 'recipient-a',
      delivery_class: opts.deliveryClass ?? 'request',
      recipient_token: opts.token ?? '',
      ciphertext: opts.ciphertext ?? b64(`cipher-${msgId}`),
      msg_id: msgId,
      timestamp: Math.floor(now),
      format: 'mls1',
      transport_lock: 'private_strong',
    },
    timestamp: now,
    sequence: 1,
    signature: '00'.repeat(64),
    network_id: 'sb-testnet-0',
    public_key: K1_PUBLIC_KEY,
    public_key_algo: 'Ed25519',
    protocol_version: 'infonet/2',
  };
}

export const inChain = (events: ChainEvent[]) => {
  const ids = new Set(events.map((e) => e.event_id));
  return (id: string): boolean => ids.has(id);
};

export const REQUEST_CLAIM = [{ type: 'requests', token: 'recipient-request-token' }];
export const shared = (token: string) => [{ type: 'shared', token }];

/** A relay on the same LevelDB as a real chain actor, with the signed access layer in front (issue 8). */
export interface SignedRelay {
  dir: string;
  registry: MailboxRegistry;
  access: MailboxAccess;
  chain: OpenedChain['chain'];
  clock: ReturnType<typeof manualClock>;
  close(): Promise<void>;
}

export async function openSignedRelay(opts: { dir?: string; env?: Env; now?: number; clock?: ReturnType<typeof manualClock> } = {}): Promise<SignedRelay> {
  const dir = opts.dir ?? tempDir('mbx-signed-');
  const clock = opts.clock ?? manualClock(opts.now ?? T0);
  const settings = loadSettings(opts.env ?? {});
  const opened = await openChainAt(dir, { settings: settings.chain, clock });
  const registry = await MailboxRegistry.open(new MailboxStore(opened.db), { settings: settings.relay, spoolTtlS: settings.chain.spool.ttlS, clock });
  const access = new MailboxAccess(registry, opened.chain, { settings: settings.relay, clock });
  return {
    dir, registry, access, chain: opened.chain, clock,
    async close() {
      await registry.close();
      await opened.close();
    },
  };
}
