// Outbound batching (docs/dm-relay.md): a link sends singles on POST /api/mesh/dm/replicate-envelope while window
// slots are free; when more envelopes are due than slots, they share POST /api/mesh/dm/replicate-envelopes requests
// (per-item results settle each item); a peer without the batch route (404) gets singles, nothing is lost.
import { verifyPeerRequest } from '../../protocol/peer-auth.js';
import { waitFor } from '../helpers/nats.js';
import { type Answer, type FakePeer, type Recorded, type Sender, SECRET, deadUrl, fakePeer, openSender, removeTempDirs, sharedDm, tempDir } from './outbound-helpers.js';

const SELF = 'http://127.0.0.1:7001';
const SINGLE = '/api/mesh/dm/replicate-envelope';
const BATCH = '/api/mesh/dm/replicate-envelopes';

let peers: FakePeer[] = [];
let senders: Sender[] = [];
afterEach(async () => {
  for (const s of senders.splice(0)) await s.close();
  for (const p of peers.splice(0)) await p.close();
});
afterAll(() => removeTempDirs());

const bodyOf = (r: Recorded) => JSON.parse(r.body.toString('utf8'));

/** Queues `n` envelopes while the peer is unreachable, then brings a peer up on that port with `answer`. */
async function backlog(n: number, answer: (r: Recorded) => Answer, policy = {}) {
  const url = await deadUrl();
  const dir = tempDir();
  let s = await openSender({ dir, selfUrl: SELF, peers: [url], policy: { baseS: 600 } });
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await s.mailboxes.deposit(sharedDm())).msg_id);
  await waitFor(() => s.replicator.metrics.get('dm_replication_push_error') >= 1);
  await s.close();
  const p = await fakePeer(answer, { port: Number(new URL(url).port) });
  peers.push(p);
  // Restart with a healthy link (no failure carried over from the restart's point of view: retryNow, then answers).
  s = await openSender({ dir, selfUrl: SELF, peers: [url], clock: s.clock, policy });
  senders.push(s);
  return { s, p, ids, url };
}

test('more envelopes due than free slots share one batch request; per-item results settle each item; MAC over the batch bytes', async () => {
  let refuse = '';
  const answer = (r: Recorded): Answer => {
    if (r.url === BATCH) {
      const envs = bodyOf(r).envelopes as Array<{ msg_id: string }>;
      // One item is refused by the peer (e.g. a full mailbox): dropped like a single-route ok:false.
      return { status: 200, json: { ok: true, results: envs.map((e) => (e.msg_id === refuse ? { ok: false, detail: 'Recipient mailbox full' } : { ok: true, msg_id: e.msg_id })) } };
    }
    return { status: 200, json: { ok: true } };
  };
  const { s, p, ids } = await backlog(6, answer, { window: 2 });
  refuse = ids[3]; // never the probe (the oldest item goes first, alone)
  s.replicator.retryNow();
  await s.replicator.whenIdle();
  const m = s.replicator.metrics;
  // After the restart the link is still counting a failure: the first request is a single-envelope probe; once it
  // answers, 5 envelopes are due for 2 free slots → two batch requests.
  const batches = p.requests.filter((r) => r.url === BATCH);
  expect(batches.length).toBeGreaterThanOrEqual(1);
  const sent = p.requests.flatMap((r) => (r.url === BATCH ? bodyOf(r).envelopes : [bodyOf(r).envelope])).map((e: { msg_id: string }) => e.msg_id);
  expect(new Set(sent)).toEqual(new Set(ids));
  expect(sent).toHaveLength(ids.length); // each envelope sent exactly once
  for (const b of batches) {
    const auth = verifyPeerRequest({
      headerUrl: b.headers['x-peer-url'], headerMac: b.headers['x-peer-hmac'], body: b.body, allowlist: [SELF], settings: { pushSecret: SECRET, peerSecrets: '' },
    });
    expect(auth.ok).toBe(true);
    expect(b.body.toString('utf8')).toBe(JSON.stringify(bodyOf(b))); // compact, like the single route
    expect(bodyOf(b).envelopes.every((e: { recipient_token: string }) => e.recipient_token === '')).toBe(true);
  }
  expect(m.get('dm_replication_batches')).toBe(batches.length);
  expect(m.get('dm_replication_push_rejected')).toBe(1);
  expect(m.get('dm_replication_push_ok')).toBe(ids.length - 1);
  expect(s.replicator.link(p.url)!.lastError).toBe('Recipient mailbox full');
  expect(await s.outbox.count()).toBe(0);
});

test('a peer without the batch route (404) gets singles: every envelope delivered, batch not retried for a while', async () => {
  const answer = (r: Recorded): Answer => (r.url === SINGLE ? { status: 200, json: { ok: true } } : { status: 404, json: { ok: false, detail: 'Not Found' } });
  const { s, p, ids } = await backlog(6, answer, { window: 1 });
  s.replicator.retryNow();
  await waitFor(() => s.replicator.metrics.get('dm_replication_push_ok') === ids.length);
  await s.replicator.whenIdle();
  const m = s.replicator.metrics;
  expect(m.get('dm_replication_batch_fallback')).toBe(1);
  expect(p.requests.filter((r) => r.url === BATCH)).toHaveLength(1);
  const singles = p.requests.filter((r) => r.url === SINGLE).map((r) => bodyOf(r).envelope.msg_id);
  expect(new Set(singles)).toEqual(new Set(ids));
  expect(m.get('dm_replication_push_error')).toBe(0); // a 404 on the batch route is not an error for the items
  expect(m.get('dm_replication_push_rejected')).toBe(0);
  expect(await s.outbox.count()).toBe(0);

  // More backlog later: still singles (the peer is remembered as batch-less).
  for (let i = 0; i < 4; i++) await s.mailboxes.deposit(sharedDm());
  await waitFor(() => s.replicator.metrics.get('dm_replication_push_ok') === ids.length + 4);
  expect(p.requests.filter((r) => r.url === BATCH)).toHaveLength(1);
});

test('an idle healthy link sends each envelope alone on the single route (interop, lowest latency)', async () => {
  const p = await fakePeer(() => ({ status: 200, json: { ok: true } }));
  peers.push(p);
  const s = await openSender({ selfUrl: SELF, peers: [p.url] });
  senders.push(s);
  for (let i = 0; i < 3; i++) {
    await s.mailboxes.deposit(sharedDm());
    // Idle again before the next deposit: an envelope due behind an in-flight request waits and may share the next
    // request (the busy-link test below), which is not what this test is about.
    await waitFor(() => s.replicator.metrics.get('dm_replication_push_ok') === i + 1);
  }
  expect(p.requests.map((r) => r.url)).toEqual([SINGLE, SINGLE, SINGLE]);
});

test('a busy link holds a small backlog until its in-flight request answers, then sends it as one batch request', async () => {
  let release!: () => void;
  const held = new Promise<void>((r) => { release = r; });
  let first = true;
  const p = await fakePeer(async (r) => {
    if (first) {
      first = false;
      await held; // the peer is slow to answer the first request
    }
    if (r.url === BATCH) return { status: 200, json: { ok: true, results: bodyOf(r).envelopes.map((e: { msg_id: string }) => ({ ok: true, msg_id: e.msg_id })) } };
    return { status: 200, json: { ok: true } };
  });
  peers.push(p);
  const s = await openSender({ selfUrl: SELF, peers: [p.url] });
  senders.push(s);
  await s.mailboxes.deposit(sharedDm());
  await waitFor(() => p.requests.length === 1); // an idle link sends a lone envelope at once, on the single route
  for (let i = 0; i < 5; i++) await s.mailboxes.deposit(sharedDm());
  release();
  await waitFor(() => s.replicator.metrics.get('dm_replication_push_ok') === 6);
  // Five due while one request was in flight (fewer than half a batch): they waited for its answer and went together,
  // not as 2 + 2 + 1 over the free slots of the window.
  expect(p.requests.map((r) => r.url)).toEqual([SINGLE, BATCH]);
  expect(bodyOf(p.requests[1]).envelopes).toHaveLength(5);
  await s.replicator.whenIdle();
  expect(await s.outbox.count()).toBe(0);
});

test('a backlog drains with linear work: a pump scans only what fills the free window, not the whole queue (20,000 items)', async () => {
  const n = 20_000;
  const url = await deadUrl();
  const dir = tempDir();
  let s = await openSender({ dir, selfUrl: SELF, peers: [url], policy: { baseS: 600 } });
  // The backlog a long outage leaves, written straight into the outbox (older items' stored form, with a body).
  const ops = [];
  const now = s.clock();
  for (let i = 0; i < n; i++) {
    const body = Buffer.from(JSON.stringify({ envelope: { msg_id: `m${i}` } }), 'utf8');
    ops.push(...s.outbox.prepare([url], { kind: 'envelope', msg_id: `m${i}`, body, attempts: 0, next_attempt_at: 0, created_at: now, expires_at: now + 3600 }).ops);
  }
  await s.outbox.committer.write(ops);
  await s.close();
  const answer = (r: Recorded): Answer => (r.url === BATCH
    ? { status: 200, json: { ok: true, results: (bodyOf(r).envelopes as unknown[]).map(() => ({ ok: true })) } }
    : { status: 200, json: { ok: true } });
  const p = await fakePeer(answer, { port: Number(new URL(url).port) });
  peers.push(p);
  s = await openSender({ dir, selfUrl: SELF, peers: [url], clock: s.clock });
  senders.push(s);
  const link = s.replicator.link(url)!;
  expect(link.queued).toBe(n);
  s.replicator.retryNow();
  await s.replicator.whenIdle();
  expect(s.replicator.metrics.get('dm_replication_push_ok')).toBe(n);
  expect(await s.outbox.count()).toBe(0);
  // ~n/64 pumps, each looking at most at the in-flight items (4 × 64) plus what fills the window (4 × 100): ~10 n.
  // Scanning the whole remaining queue every time was ~n²/128 (~156 n here).
  expect(link.scanVisits).toBeLessThan(25 * n);
}, 60_000);
