// GET /metrics on a real node's local API (issue 13): Prometheus text that parse-prometheus-text-format reads, the
// token rule (401 without it), counters that move with activity (appends through the bus, a refused append), the
// --metrics-public-loopback switch, and `infonet console url`; with two peered nodes, mailbox counts, deposits/polls/
// claims, replication pushes per transport and the bus command / peer call latency histograms.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { apiTargetOf } from '../../api/client.js';
import { InfonetClient } from '../../bus/client.js';
import { resolveConfig } from '../../node/config.js';
import type { InfonetNode } from '../../node/infonet-node.js';
import { generateIdentity } from '../../protocol/identity.js';
import { messagePayload, removeTempDirs, sealed, startNode, tempDataDir } from '../node/helpers.js';
import { Mesh } from '../replication/outbound-mesh.js';

jest.setTimeout(60_000);

interface Family { name: string; type: string; metrics: Array<{ value?: string; count?: string; labels?: Record<string, string> }> }

let node: InfonetNode;
let client: InfonetClient;
const dataDir = tempDataDir('infonet-metrics-');

beforeAll(async () => {
  node = await startNode({ dataDir });
  client = await InfonetClient.connect(node.natsUrl, node.nodeId);
});

afterAll(async () => {
  await client?.close();
  await node?.stop();
  removeTempDirs();
});

/** Scraped families; `text` keeps the raw exposition for histogram series (see histogramCount). */
type Scrape = Map<string, Family> & { text?: string };

async function scrape(dir = dataDir): Promise<Scrape> {
  const { url, token } = apiTargetOf(dir);
  const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  const text = await res.text();
  const families = parsePrometheusTextFormat(text) as Family[];
  return Object.assign(new Map(families.map((f) => [f.name, f])), { text });
}

/**
 * `<name>_count` of one labelled histogram series. parse-prometheus-text-format 1.1 folds every series of a labelled
 * histogram into one label-less sample (its flattenMetrics), so the family's type comes from the parser and the
 * per-series count from the exposition line itself: `name_count{k="v",…} N`.
 */
function histogramCount(m: Scrape, name: string, labels: Record<string, string>): number {
  for (const line of (m.text ?? '').split('\n')) {
    const x = new RegExp(`^${name}_count\\{([^}]*)\\} (\\S+)$`).exec(line);
    if (!x) continue;
    const got = Object.fromEntries([...x[1].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((p) => [p[1], p[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(x[2]);
  }
  return 0;
}

const value = (m: Scrape, name: string, labels: Record<string, string> = {}): number => {
  const f = m.get(name);
  if (!f) throw new Error(`no metric ${name}`);
  const s = f.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  return Number(s?.value ?? s?.count ?? NaN);
};
/** A series' value, 0 when the series does not exist yet (a labelled counter before its first event). */
const valueOr0 = (m: Scrape, name: string, labels: Record<string, string> = {}): number => {
  const f = m.get(name);
  const s = f?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  return s ? Number(s.value ?? s.count) : 0;
};

test('/metrics refuses a missing or wrong token with 401', async () => {
  const { url } = apiTargetOf(dataDir);
  expect((await fetch(`${url}/metrics`)).status).toBe(401);
  expect((await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
});

test('/metrics parses as Prometheus text and its counters move with appends and refusals', async () => {
  const before = await scrape();
  for (const name of ['infonet_chain_height', 'infonet_chain_appends_total', 'infonet_mailboxes', 'infonet_process_resident_memory_bytes', 'infonet_uptime_seconds']) {
    expect(before.has(name)).toBe(true);
  }
  const h0 = value(before, 'infonet_chain_height');
  const a0 = value(before, 'infonet_chain_appends_total');

  const author = generateIdentity();
  await client.appendSigned(author, 'message', messagePayload(1));
  await client.appendSigned(author, 'message', messagePayload(2));
  await expect(client.appendSigned(author, 'message', messagePayload(3), { sequence: 0 })).rejects.toMatchObject({ code: expect.any(String) });

  const after = await scrape();
  expect(value(after, 'infonet_chain_height')).toBe(h0 + 2);
  expect(value(after, 'infonet_chain_appends_total')).toBe(a0 + 2);
  const rejected = after.get('infonet_chain_rejections_total')?.metrics ?? [];
  expect(rejected.reduce((n, s) => n + Number(s.value), 0)).toBeGreaterThanOrEqual(1);
  expect(value(after, 'infonet_mailboxes', { state: 'stored' })).toBeGreaterThanOrEqual(0);
});

test('--metrics-public-loopback serves /metrics without the token (the console still needs it)', async () => {
  const dir = tempDataDir('infonet-metrics-public-');
  const open = await startNode({ dataDir: dir, config: resolveConfig({ env: {}, flags: { metricsPublicLoopback: 'true' } }) });
  try {
    const { url } = apiTargetOf(dir);
    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('infonet_chain_height');
    expect((await fetch(`${url}/console/`)).status).toBe(401);
  } finally {
    await open.stop();
  }
});

test('`infonet console url --data DIR` prints the token link of the running node; the link opens the console', async () => {
  const { url, token } = apiTargetOf(dataDir);
  const out = await new Promise<{ code: number; stdout: string }>((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join(__dirname, '../../cli/main.ts'), 'console', 'url', '--data', dataDir], { cwd: join(__dirname, '../..') },
      (err, stdout) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout }));
  });
  expect(out.code).toBe(0);
  const link = out.stdout.trim();
  expect(link).toBe(`${url}/console/?token=${token}`);
  const res = await fetch(link, { redirect: 'manual' });
  expect(res.status).toBe(302);
  expect(res.headers.get('location')).toBe('/console/');
  expect(res.headers.get('set-cookie')).toMatch(/HttpOnly; SameSite=Strict/);
});

test('with a peer: mailbox counts, deposits/polls/claims, pushes per transport and latency histograms move with activity', async () => {
  const mesh = await Mesh.create(['a', 'b'], { transport: 'http' });
  try {
    await mesh.startAll();
    const a = mesh.get('a');
    const b = mesh.get('b');
    const dirA = mesh.nodes.get('a')!.dataDir;
    const dirB = mesh.nodes.get('b')!.dataDir;
    await a.mailboxes.stats.whenCounted();
    await b.mailboxes.stats.whenCounted();
    const a0 = await scrape(dirA);
    const b0 = await scrape(dirB);
    for (const name of ['infonet_mailbox_messages', 'infonet_mailboxes_with_pending', 'infonet_mailbox_oldest_pending_age_seconds',
      'infonet_mailbox_deposits_total', 'infonet_mailbox_polls_total', 'infonet_mailbox_claims_total', 'infonet_replication_push_total',
      'infonet_bus_command_duration_seconds', 'infonet_peer_request_duration_seconds']) {
      expect(a0.has(name)).toBe(true);
    }
    expect(a0.get('infonet_bus_command_duration_seconds')!.type).toBe('HISTOGRAM');

    const ca = await InfonetClient.connect(a.natsUrl, a.nodeId);
    try {
      const token = 'metrics-shared-token';
      for (let i = 0; i < 3; i++) {
        await ca.dmDeposit({ sender_id: `metrics-sender-${i}`, recipient_token: token, delivery_class: 'shared', ciphertext: sealed(), msg_id: `metrics-${i}` });
      }
      await a.replication!.whenIdle();
      const a1 = await scrape(dirA);
      const b1 = await scrape(dirB);
      expect(value(a1, 'infonet_mailbox_deposits_total', { origin: 'local' })).toBe(valueOr0(a0, 'infonet_mailbox_deposits_total', { origin: 'local' }) + 3);
      expect(value(a1, 'infonet_mailbox_messages', { state: 'pending', class: 'shared' })).toBe(value(a0, 'infonet_mailbox_messages', { state: 'pending', class: 'shared' }) + 3);
      expect(value(a1, 'infonet_mailboxes_with_pending', { class: 'shared' })).toBe(value(a0, 'infonet_mailboxes_with_pending', { class: 'shared' }) + 1);
      // Each of the three got a verdict from B over HTTP (B's per-sender cap counts unsigned replicas of one peer
      // together, so some may be refused): ok + rejected moved by 3.
      const pushes = (m: Scrape, outcome: string) => valueOr0(m, 'infonet_replication_push_total', { transport: 'http', kind: 'envelope', outcome });
      const ok = pushes(a1, 'ok') - pushes(a0, 'ok');
      expect(ok).toBeGreaterThanOrEqual(1);
      expect(ok + pushes(a1, 'rejected') - pushes(a0, 'rejected')).toBe(3);
      expect(histogramCount(a1, 'infonet_bus_command_duration_seconds', { command: 'dm.deposit', outcome: 'ok' })).toBe(3);
      expect(histogramCount(a1, 'infonet_peer_request_duration_seconds', { transport: 'http', route: 'dm/replicate-envelopes', outcome: '2xx' })
        + histogramCount(a1, 'infonet_peer_request_duration_seconds', { transport: 'http', route: 'dm/replicate-envelope', outcome: '2xx' })).toBeGreaterThanOrEqual(1);
      // B stored the replicas: its replica deposits and pending count moved.
      expect(value(b1, 'infonet_mailbox_deposits_total', { origin: 'replica' })).toBe(valueOr0(b0, 'infonet_mailbox_deposits_total', { origin: 'replica' }) + ok);
      expect(value(b1, 'infonet_mailbox_messages', { state: 'pending', class: 'shared' })).toBe(ok);
      // Node status carries the push round trips for the console's latency chart.
      const lat = (await a.status()).latency?.replication_push.http;
      expect(lat?.count).toBeGreaterThanOrEqual(1);

      // A poll on A takes the three: polls +1, claims +3, pending −3, tombstones +3.
      const agent = generateIdentity();
      const polled = await ca.dmPoll(agent, [{ type: 'shared', token }]);
      expect(polled.messages).toHaveLength(3);
      const a2 = await scrape(dirA);
      expect(value(a2, 'infonet_mailbox_polls_total')).toBe(value(a1, 'infonet_mailbox_polls_total') + 1);
      expect(value(a2, 'infonet_mailbox_claims_total')).toBe(value(a1, 'infonet_mailbox_claims_total') + 3);
      expect(value(a2, 'infonet_mailbox_messages', { state: 'pending', class: 'shared' })).toBe(value(a1, 'infonet_mailbox_messages', { state: 'pending', class: 'shared' }) - 3);
      expect(value(a2, 'infonet_mailbox_messages', { state: 'claimed', class: 'any' })).toBe(value(a1, 'infonet_mailbox_messages', { state: 'claimed', class: 'any' }) + 3);
      expect(histogramCount(a2, 'infonet_bus_command_duration_seconds', { command: 'dm.poll', outcome: 'ok' })).toBe(1);
    } finally {
      await ca.close();
    }
  } finally {
    await mesh.stopAll();
  }
});
