// Fixtures for the inbound replication tests: a chain actor and a mailbox registry on one real LevelDB
// directory (the smallest thing the peer endpoints need), and a raw HTTP client over node:http so tests
// control headers, chunking and the exact body bytes.
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ChainActor } from '../../actors/chain-actor.js';
import { MailboxRegistry } from '../../actors/mailbox-registry.js';
import { manualClock } from '../../protocol/clock.js';
import { signPeerRequest } from '../../protocol/peer-auth.js';
import { loadSettings, type Env, type Settings } from '../../protocol/settings.js';
import { openDatabase, type Db } from '../../store/db.js';
import { MailboxStore } from '../../store/mailbox-store.js';

export interface Fixture {
  dir: string;
  db: Db;
  chain: ChainActor;
  mailboxes: MailboxRegistry;
  settings: Settings;
  clock: ReturnType<typeof manualClock>;
  close(): Promise<void>;
}

const dirs: string[] = [];

export function tempDir(prefix = 'infonet-repl-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

export function removeTempDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export async function openFixture(opts: { env?: Env; now?: number; dir?: string; clock?: ReturnType<typeof manualClock> } = {}): Promise<Fixture> {
  const dir = opts.dir ?? tempDir();
  const clock = opts.clock ?? manualClock(opts.now ?? Date.now() / 1000);
  const settings = loadSettings(opts.env ?? {});
  const db = await openDatabase(dir);
  const chain = await ChainActor.start({ db, settings: settings.chain, clock });
  const mailboxes = await MailboxRegistry.open(new MailboxStore(db, chain.ledger.store.committer), {
    settings: settings.relay, spoolTtlS: settings.chain.spool.ttlS, clock,
  });
  let closed = false;
  return {
    dir, db, chain, mailboxes, settings, clock,
    async close() {
      if (closed) return;
      closed = true;
      await mailboxes.close();
      await chain.stop();
      await db.close();
    },
  };
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

/** One request over a fresh connection. `chunked` sends the body in pieces without Content-Length. */
export function httpRequest(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer; chunked?: boolean } = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const body = opts.body === undefined ? undefined : Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(opts.body, 'utf8');
    const headers: Record<string, string | number> = { ...(opts.headers ?? {}) };
    if (body && !opts.chunked) headers['Content-Length'] = body.length;
    if (body && opts.chunked) headers['Transfer-Encoding'] = 'chunked';
    const req = request(url, { method: opts.method ?? (body ? 'POST' : 'GET'), headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body && opts.chunked) {
      for (let i = 0; i < body.length; i += 8192) req.write(body.subarray(i, i + 8192));
      req.end();
    } else {
      req.end(body);
    }
  });
}

/** Headers + body of a peer request signed as `selfUrl` (§8.2) with the given secret settings. */
export function signed(selfUrl: string, obj: unknown, secrets: { pushSecret?: string; peerSecrets?: string }): { headers: Record<string, string>; body: string } {
  const body = JSON.stringify(obj);
  const h = signPeerRequest(selfUrl, body, { pushSecret: secrets.pushSecret ?? '', peerSecrets: secrets.peerSecrets ?? '' });
  return { headers: { 'Content-Type': 'application/json', ...h }, body };
}

export const sealedCiphertext = (): string => randomBytes(48).toString('base64');

/** A shared-class replica envelope (mailbox key recomputed by the receiver as SHA-256(token)). */
export function sharedEnvelope(msgId: string, token = 'shared-token-1', senderRef = 'alice_block_ref'): Record<string, unknown> {
  return {
    msg_id: msgId, mailbox_key: 'ignored', recipient_id: '', recipient_token: token, sender_id: 'alice',
    sender_block_ref: senderRef, sender_seal: '', ciphertext: sealedCiphertext(), timestamp: 0,
    delivery_class: 'shared', relay_salt: '', payload_format: 'dm1', session_welcome: '',
  };
}
