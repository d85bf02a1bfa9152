// 20,000 hostile inputs against the peer routes over real HTTP (issue 8 item 5): no HTTP 500, only the statuses the
// spec names, and the chain and the mailboxes change exactly by what the answers say was accepted — rejected input
// changes nothing. The seed is printed so a failure can be replayed (FUZZ_SEED=<n>); the long run of issue 8 is
// `FUZZ_INPUTS=1000000 npx jest test/replication/peer-fuzz.test.ts` (inputs are streamed; RSS is printed at the end).
import net from 'node:net';
import { createPeerApplication } from '../../peer/app.js';
import { generateIdentity } from '../../protocol/identity.js';
import type { PeerRouteName } from '../../protocol/peer-routes.js';
import { startPeerHttpServer, type PeerHttpServer } from '../../transports/http-server.js';
import { fuzzStream, type FuzzRequest } from './peer-fuzz-inputs.js';
import { openFixture, removeTempDirs, sharedEnvelope, type Fixture } from './inbound-helpers.js';

const PEER = 'https://fuzz-peer.example';
const SECRET = 'fuzz-secret';
const INPUTS = Number(process.env.FUZZ_INPUTS ?? 20_000);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const ALLOWED = new Set([200, 400, 403, 404, 405, 409, 413, 426]);
const NO_LIMITS: Record<PeerRouteName, number> = {
  dm_replicate_envelope: 0, dm_replicate_envelopes: 0, infonet_peer_push: 0, infonet_sync: 0, dm_ack: 0, dm_pull: 0,
};

type StoredBox = { snapshot?: { context?: { mailbox?: { key?: string; messages?: Array<{ msg_id: string }> } } } };

/** `key|msg_id` of every message in the store. */
async function storedMessages(fx: Fixture): Promise<string[]> {
  const out: string[] = [];
  for await (const v of fx.mailboxes.store.boxes.values() as AsyncIterable<StoredBox>) {
    const mb = v.snapshot?.context?.mailbox;
    for (const m of mb?.messages ?? []) out.push(`${mb?.key}|${m.msg_id}`);
  }
  return out;
}

/**
 * A lean HTTP/1.1 client on one keep-alive socket: the request bytes are written as they are, the answer is read by
 * Content-Length. node:http's client costs more CPU than the server under test; this keeps the run about the server.
 */
class RawConnection {
  private sock: net.Socket | null = null;
  private buf: Buffer = Buffer.alloc(0);
  private waiting: ((a: { status: number; text: string } | Error) => void) | null = null;

  constructor(private readonly port: number) {}

  private connect(): net.Socket {
    const sock = net.connect(this.port, '127.0.0.1');
    sock.setNoDelay(true);
    sock.on('data', (c: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, c]) : c;
      this.tryAnswer();
    });
    const gone = (): void => {
      if (this.sock === sock) this.sock = null;
      this.buf = Buffer.alloc(0);
      const w = this.waiting;
      this.waiting = null;
      w?.(new Error('connection closed before the answer'));
    };
    sock.on('close', gone);
    sock.on('error', () => undefined);
    return sock;
  }

  private tryAnswer(): void {
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0 || !this.waiting) return;
    const head = this.buf.subarray(0, end).toString('latin1');
    const len = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
    if (this.buf.length < end + 4 + len) return;
    const text = this.buf.subarray(end + 4, end + 4 + len).toString('utf8');
    this.buf = this.buf.subarray(end + 4 + len);
    const w = this.waiting;
    this.waiting = null;
    if (/\r\nconnection:\s*close/i.test(head)) this.sock?.destroy();
    w({ status: Number(head.slice(9, 12)), text });
  }

  send(r: FuzzRequest): Promise<{ status: number; text: string }> {
    this.sock ??= this.connect();
    const head = `${r.method} ${r.path} HTTP/1.1\r\nhost: 127.0.0.1\r\n`
      + Object.entries(r.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')
      + `content-length: ${r.body.length}\r\n\r\n`;
    const sock = this.sock;
    return new Promise((resolve, reject) => {
      this.waiting = (a) => (a instanceof Error ? reject(a) : resolve(a));
      sock.write(r.body.length ? Buffer.concat([Buffer.from(head, 'latin1'), r.body]) : Buffer.from(head, 'latin1'));
    });
  }

  close(): void {
    this.sock?.destroy();
  }
}

describe('peer routes under 20,000 fuzzed inputs (real HTTP)', () => {
  let fx: Fixture;
  let srv: PeerHttpServer;
  beforeAll(async () => {
    fx = await openFixture({ env: { MESH_PEER_PUSH_SECRET: SECRET, MESH_RELAY_PEERS: PEER } });
    // Keep-alive is not under test: on a starved machine (the long run) a 5 s keep-alive timer can fire before the
    // server reads a request already written on the reused socket, and the client sees a close without an answer.
    srv = await startPeerHttpServer(createPeerApplication({ ...fx, rateLimits: NO_LIMITS }), { keepAliveTimeoutMs: 600_000 });
  });
  afterAll(async () => {
    await srv.close();
    await fx.close();
    removeTempDirs();
  });

  test(`no 500, chain and mailboxes change only by what was accepted (seed printed)`, async () => {
    console.log(`peer fuzz: seed ${SEED}, ${INPUTS} inputs`);
    const cpu0 = process.cpuUsage();
    const k = generateIdentity();
    for (let i = 0; i < 5; i++) await fx.chain.appendLocal(k, 'message', { message: `m${i}`, destination: 'broadcast', channel: 'LongFast', priority: 'normal', ephemeral: false });
    for (let i = 0; i < 3; i++) await fx.mailboxes.acceptReplica(sharedEnvelope(`seed-${i}`, 'fuzz-token-0', `ref-seed-${i}`));
    const events = await fx.chain.readRange(0, 5);
    const chainBefore = fx.chain.length;
    const seedIds = (await storedMessages(fx)).map((k) => k.split('|')[1]);

    const inputs = fuzzStream(SEED, INPUTS, {
      peer: PEER, secret: SECRET, events, tokens: ['fuzz-token-0', 'fuzz-token-1'], recipients: ['fuzz-recipient-a', 'fuzz-recipient-b'],
    });
    const conns = Array.from({ length: 16 }, () => new RawConnection(srv.port));
    const statuses = new Map<number, number>();
    let chainAccepted = 0;
    const acceptedIds: string[] = [];
    // accept_replica clamps an envelope timestamp into [now − 3600, now] (§7.8 tightening) and the relay TTL is 3600 s:
    // an envelope dated an hour ago or more is accepted and expires at once. Those are not expected to stay stored.
    // msg_ids are not unique across mailboxes (the fuzzer reuses odd values like "x"): expired ones are a list too.
    const expiredOnArrival: string[] = [];
    const ttl = fx.settings.relay.messageTtlS;
    const noteTimestamp = (item: unknown, msgId: string): void => {
      const ts = item && typeof item === 'object' ? (item as { timestamp?: unknown }).timestamp : undefined;
      const n = typeof ts === 'number' || typeof ts === 'string' ? Number(ts) : 0;
      if (Number.isFinite(n) && n > 0 && n <= fx.clock() - ttl) expiredOnArrival.push(msgId); // ≤ 0 is stored as "now"
    };
    let removed = 0;
    const bad: string[] = [];
    let sent = 0;
    const worker = async (conn: RawConnection): Promise<void> => {
      for (let it = inputs.next(); !it.done; it = inputs.next()) {
        const r = it.value;
        if (++sent % 50_000 === 0) process.stderr.write(`peer fuzz: ${sent}/${INPUTS} inputs, rss ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB\n`);
        const a = await conn.send(r);
        statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
        if (!ALLOWED.has(a.status)) bad.push(`${a.status} ${r.path} ${r.body.subarray(0, 200).toString()}`);
        let j: Record<string, unknown> = {};
        try { j = JSON.parse(a.text) as Record<string, unknown>; } catch { bad.push(`non-JSON answer ${a.status} ${r.path}`); }
        if (a.status !== 200 || j.ok !== true) continue;
        if (r.path.endsWith('/peer-push')) chainAccepted += Number(j.accepted ?? 0);
        else if (r.path.endsWith('/replicate-envelopes')) {
          const items = (JSON.parse(r.body.toString('utf8')) as { envelopes: unknown[] }).envelopes;
          (j.results as Array<{ ok?: boolean; duplicate?: boolean; msg_id?: string }>).forEach((x, i) => {
            if (!x.ok || x.duplicate) return;
            acceptedIds.push(String(x.msg_id));
            noteTimestamp(items[i], String(x.msg_id));
          });
        } else if (r.path.endsWith('/replicate-envelope') && j.duplicate !== true) {
          acceptedIds.push(String(j.msg_id));
          noteTimestamp((JSON.parse(r.body.toString('utf8')) as { envelope: unknown }).envelope, String(j.msg_id));
        }
        else if (r.path.endsWith('/dm/ack')) removed += Number(j.removed ?? 0);
      }
    };
    await Promise.all(conns.map(worker));
    for (const c of conns) c.close();
    const cpu = process.cpuUsage(cpu0);
    console.log(`peer fuzz: statuses ${JSON.stringify(Object.fromEntries(statuses))}; stored ${acceptedIds.length} (${expiredOnArrival.length} expired on arrival), removed ${removed}, chain +${chainAccepted}; `
      + `cpu ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s (client + server in this process); rss ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB`);

    expect(bad.slice(0, 5)).toEqual([]);
    expect(statuses.get(500) ?? 0).toBe(0);
    expect(fx.chain.length).toBe(chainBefore + chainAccepted);
    // Nothing got in that was not accepted, and everything accepted is there (acks need the recipient's proof, so
    // none of the fuzzer's acks can remove anything).
    expect(removed).toBe(0);
    const after = (await storedMessages(fx)).map((k) => k.split('|')[1]).sort();
    const expected = [...seedIds, ...acceptedIds];
    for (const id of expiredOnArrival) expected.splice(expected.indexOf(id), 1);
    expected.sort();
    expect(after).toEqual(expected);
  }, Math.max(180_000, INPUTS * 5)); // ~1 ms of CPU per input; the bound only guards a stuck run on a loaded machine
});
