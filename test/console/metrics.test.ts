// GET /metrics on a real node's local API (issue 13): Prometheus text that parse-prometheus-text-format reads, the
// token rule (401 without it), counters that move with activity (appends through the bus, a refused append), the
// --metrics-public-loopback switch, and `infonet console url`.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { apiTargetOf } from '../../api/client.js';
import { InfonetClient } from '../../bus/client.js';
import { resolveConfig } from '../../node/config.js';
import type { InfonetNode } from '../../node/infonet-node.js';
import { generateIdentity } from '../../protocol/identity.js';
import { messagePayload, removeTempDirs, startNode, tempDataDir } from '../node/helpers.js';

jest.setTimeout(60_000);

interface Family { name: string; type: string; metrics: Array<{ value?: string; labels?: Record<string, string> }> }

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

async function scrape(): Promise<Map<string, Family>> {
  const { url, token } = apiTargetOf(dataDir);
  const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  const families = parsePrometheusTextFormat(await res.text()) as Family[];
  return new Map(families.map((f) => [f.name, f]));
}

const value = (m: Map<string, Family>, name: string, labels: Record<string, string> = {}): number => {
  const f = m.get(name);
  if (!f) throw new Error(`no metric ${name}`);
  const s = f.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  return Number(s?.value ?? NaN);
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
