// Fixtures for the outbound replication tests: a sender (mailbox registry + outbox on one real LevelDB,
// real HTTP transport) and small real node:http peers that record requests and answer as told.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { MailboxRegistry } from '../../actors/mailbox-registry.js';
import type { RetryPolicy } from '../../actors/peer-link-actor.js';
import { Replicator, type ReplicatorBounds } from '../../actors/replication-actor.js';
import { manualClock } from '../../protocol/clock.js';
import { loadSettings, type Env, type Settings } from '../../protocol/settings.js';
import { openDatabase, type Db } from '../../store/db.js';
import { MailboxStore } from '../../store/mailbox-store.js';
import { OutboxStore } from '../../store/outbox-store.js';
import { HttpPeerTransport } from '../../transports/loopback-http.js';
import { TransportSet } from '../../transports/transport.js';
import { freePort } from '../../bus/nats-server.js';

export const SECRET = 'outbound-test-secret';
export const silent = () => pino({ level: 'silent' });
export const sealed = (): string => randomBytes(48).toString('base64');

const dirs: string[] = [];
export function tempDir(prefix = 'infonet-outbound-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}
export function removeTempDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export interface Sender {
  dir: string;
  db: Db;
  mailboxes: MailboxRegistry;
  outbox: OutboxStore;
  replicator: Replicator;
  settings: Settings;
  clock: ReturnType<typeof manualClock>;
  close(): Promise<void>;
}

export interface SenderOptions {
  dir?: string;
  selfUrl?: string;
  peers: string[];
  env?: Env;
  clock?: ReturnType<typeof manualClock>;
  policy?: Partial<RetryPolicy>;
  pullWaitMs?: number;
  bounds?: Partial<ReplicatorBounds>;
}

/** A sending relay: registry + outbox + replicator with the HTTP transport, on a real LevelDB. */
export async function openSender(o: SenderOptions): Promise<Sender> {
  const dir = o.dir ?? tempDir();
  const clock = o.clock ?? manualClock(Date.now() / 1000);
  const selfUrl = o.selfUrl ?? 'http://127.0.0.1:1';
  const settings = loadSettings({
    MESH_PEER_PUSH_SECRET: SECRET, MESH_RELAY_PEERS: o.peers.join(','), MESH_PUBLIC_PEER_URL: selfUrl, ...(o.env ?? {}),
  });
  const db = await openDatabase(dir);
  const store = new MailboxStore(db);
  const mailboxes = await MailboxRegistry.open(store, { settings: settings.relay, spoolTtlS: settings.chain.spool.ttlS, clock });
  const outbox = new OutboxStore(db, store.committer);
  const transports = new TransportSet([new HttpPeerTransport({ clock })], settings.peers.allowClearnetSync);
  const replicator = await Replicator.start({
    mailboxes, store: outbox, transports,
    settings: settings.peers, messageTtlS: settings.relay.messageTtlS, selfUrl, clock, logger: silent(),
    ...(o.policy ? { policy: o.policy } : {}), ...(o.pullWaitMs !== undefined ? { pullWaitMs: o.pullWaitMs } : {}),
    ...(o.bounds ? { bounds: o.bounds } : {}),
  });
  let closed = false;
  return {
    dir, db, mailboxes, outbox, replicator, settings, clock,
    async close() {
      if (closed) return;
      closed = true;
      await replicator.stop();
      await transports.close();
      await mailboxes.close();
      await db.close();
    },
  };
}

export interface Recorded {
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

export type Answer = { status: number; json: unknown; headers?: Record<string, string> };

export interface FakePeer {
  url: string;
  port: number;
  requests: Recorded[];
  connections: number;
  answer: (r: Recorded) => Answer | Promise<Answer>;
  close(): Promise<void>;
}

/** A real HTTP peer on `host`; records every request and every TCP connection it accepts. `answer` may hold a request (a promise). */
export async function fakePeer(answer: (r: Recorded) => Answer | Promise<Answer>, opts: { host?: string; port?: number; urlHost?: string } = {}): Promise<FakePeer> {
  const sockets = new Set<Socket>();
  const peer: FakePeer = { url: '', port: 0, requests: [], connections: 0, answer, close: async () => undefined };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec: Recorded = { url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      peer.requests.push(rec);
      void Promise.resolve(peer.answer(rec)).then((a) => {
        const body = Buffer.from(JSON.stringify(a.json));
        res.writeHead(a.status, { 'Content-Type': 'application/json', 'Content-Length': body.length, ...(a.headers ?? {}) });
        res.end(body);
      });
    });
  });
  server.on('connection', (s: Socket) => {
    peer.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((r) => server.listen(opts.port ?? 0, host, r));
  peer.port = (server.address() as AddressInfo).port;
  peer.url = `http://${opts.urlHost ?? '127.0.0.1'}:${peer.port}`;
  peer.close = () => new Promise<void>((r) => {
    for (const s of sockets) s.destroy();
    server.close(() => r());
  });
  return peer;
}

/** A loopback URL nobody listens on. */
export async function deadUrl(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}`;
}

/** A shared-class deposit request (each call a new mailbox unless a token is given). */
export function sharedDm(token = randomBytes(16).toString('hex'), sender = 'alice') {
  return { sender_id: sender, ciphertext: sealed(), delivery_class: 'shared', recipient_token: token };
}
