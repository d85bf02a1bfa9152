// Issue 8 item 6 reproductions against real nodes (real nats-server, real LevelDB, bus peers nats://<node id>):
//   (a) a node with < 20 events syncing from an empty peer keeps its events (the peer is behind, not forked);
//   (b) three peered nodes, one stopped while the others append (also concurrently, a real fork), healed:
//       every acknowledged event on every node, heads equal;
//   (c) a real short fork: own events re-appended on the peer's chain, another author's event kept aside
//       (durably) and resolved when it comes back;
//   (d) a contact from a peer clears its cooldown and the ladder; an unreachable peer cools down one interval;
//   (e) the scheduler's timer lives in its machine: a contact re-arms it and the cycle runs at once;
//   (f) a long chain with short concurrent tails on two nodes converges (fork point found, tail rebuilt).
import { pino } from 'pino';
import { resolveConfig } from '../../node/config.js';
import { InfonetNode } from '../../node/infonet-node.js';
import type { ChainEvent } from '../../protocol/event.js';
import { generateIdentity, type Identity } from '../../protocol/identity.js';
import { signedIdentity } from '../../protocol/sync-fork.js';
import { busPeerUrl } from '../../transports/bus-peer-protocol.js';
import { startServer, stopAll, waitFor, type TestServer } from '../helpers/nats.js';
import { messagePayload, removeTempDirs, silentLogger, tempDataDir } from '../node/helpers.js';

const running = new Set<InfonetNode>();
afterAll(async () => {
  for (const n of running) await n.stop();
  await stopAll();
  removeTempDirs();
});

interface Spec { id: Identity; dir: string; peers: Identity[] }

async function start(server: TestServer, s: Spec, opts: { timer?: boolean; env?: Record<string, string> } = {}): Promise<InfonetNode> {
  const n = await InfonetNode.start({
    dataDir: s.dir, natsUrl: server.clientUrl, identity: s.id, logger: process.env.SYNC_DEBUG ? pino({ level: 'info' }, pino.destination(2)) : silentLogger(),
    config: resolveConfig({ env: { MESH_PEER_PUSH_SECRET: 'heal-secret', MESH_RELAY_PEERS: s.peers.map((p) => busPeerUrl(p.nodeId)).join(','), ...(opts.env ?? {}) } }),
    inbound: { sync: { timer: opts.timer ?? false } },
  });
  running.add(n);
  return n;
}
async function stop(n: InfonetNode): Promise<void> {
  running.delete(n);
  await n.stop();
}
const all = (n: InfonetNode): Promise<ChainEvent[]> => n.chain.readRange(0, n.chain.length);
const specs = (k: number): Spec[] => {
  const ids = Array.from({ length: k }, () => generateIdentity());
  return ids.map((id) => ({ id, dir: tempDataDir(), peers: ids.filter((o) => o !== id) }));
};

test('(a) a node with < 20 events that syncs from an EMPTY peer keeps every event; the peer then pulls them', async () => {
  const server = await startServer();
  const [sx, sy] = specs(2);
  const x = await start(server, sx);
  const y = await start(server, sy);
  for (let i = 0; i < 3; i++) await x.chain.appendLocal(generateIdentity(), 'message', messagePayload(i));
  const head = x.chain.head;

  const rep = await x.inbound!.sync.runCycle();
  // Before the fix: `forked` (the locator matched only GENESIS) → reset to genesis → 0 events.
  expect(x.chain.length).toBe(3);
  expect(x.chain.head).toBe(head);
  expect(rep.outcome).toBe('ok');
  expect(rep.tried[0]).toMatchObject({ ok: true, note: 'peer behind' });
  // With peer push configured (a secret, a bus URL to sign as) the behind peer was also pushed our events.
  expect(x.inbound!.sync.metrics()).toMatchObject({ peers_behind_total: 1, rebuilds_total: 0, pushed_to_behind_total: 3 });
  expect(y.chain.head).toBe(head);

  expect((await y.inbound!.sync.runCycle()).outcome).toBe('ok');
  expect(y.chain.head).toBe(head);
});

test('(b) three peered nodes: one stopped while the others append (sequentially and concurrently) — after the heal every acknowledged event is on every node', async () => {
  const server = await startServer();
  const [s1, s2, s3] = specs(3);
  const env = { MESH_SYNC_INTERVAL_S: '1' };
  const n1 = await start(server, s1, { timer: true, env });
  let n2 = await start(server, s2, { timer: true, env });
  const n3 = await start(server, s3, { timer: true, env });
  const acked: string[] = [];
  const ack = (e: ChainEvent) => { acked.push(signedIdentity(e)); };

  await stop(n2); // the partition: n2 is gone, its chain empty
  for (let i = 0; i < 3; i++) ack(await n1.chain.appendLocal(generateIdentity(), 'message', messagePayload(i)));
  await waitFor(() => n3.chain.head === n1.chain.head, 20_000);
  // Both sides write at once with their node keys: a real fork of two short chains; one side rebuilds and
  // re-appends its own events on the other's chain.
  const both = await Promise.all([
    ...[0, 1].map((i) => n1.chain.appendLocal(n1.identity, 'message', messagePayload(100 + i))),
    ...[0, 1].map((i) => n3.chain.appendLocal(n3.identity, 'message', messagePayload(200 + i))),
  ]);
  both.forEach(ack);

  n2 = await start(server, s2, { timer: true, env }); // heal
  const everywhere = async (): Promise<boolean> => {
    const sets = await Promise.all([n1, n2, n3].map(async (n) => new Set((await all(n)).map(signedIdentity))));
    return n1.chain.head === n2.chain.head && n2.chain.head === n3.chain.head && sets.every((s) => acked.every((id) => s.has(id)));
  };
  await waitFor(everywhere, 30_000);
  expect(n1.chain.length).toBe(acked.length);
  const m = [n1, n3].map((n) => n.inbound!.sync.metrics());
  // Exactly the losing side rebuilt; nothing was kept aside (every event of the fork was its own).
  expect(m.map((x) => x.rebuilds_total).reduce((a, b) => a + b)).toBeGreaterThanOrEqual(1);
  expect(m.map((x) => x.kept_aside)).toEqual([0, 0]);
});

test('(c) a real short fork: own events re-appended on the peer chain, another author\'s event kept aside durably and resolved when it comes back', async () => {
  const server = await startServer();
  const [sx, sy] = specs(2);
  let x = await start(server, sx);
  const y = await start(server, sy);
  const stranger = generateIdentity();
  const theirs = await x.chain.appendLocal(stranger, 'message', messagePayload(1));
  const mine = [await x.chain.appendLocal(x.identity, 'message', messagePayload(2)), await x.chain.appendLocal(x.identity, 'message', messagePayload(3))];
  for (let i = 0; i < 4; i++) await y.chain.appendLocal(generateIdentity(), 'message', messagePayload(10 + i));
  const yEvents = await all(y);

  const rep = await x.inbound!.sync.runCycle();
  expect(rep.outcome).toBe('ok');
  const xs = await all(x);
  expect(xs.slice(0, 4).map((e) => e.event_id)).toEqual(yEvents.map((e) => e.event_id));
  expect(xs.slice(4).map(signedIdentity)).toEqual(mine.map(signedIdentity));
  expect(xs.some((e) => e.event_id === theirs.event_id)).toBe(false);
  expect(x.inbound!.sync.metrics()).toMatchObject({ kept_aside: 1, reappended_total: 2, rebuilds_total: 1 });

  // Durable: still kept aside after a restart.
  await stop(x);
  x = await start(server, sx);
  expect(x.inbound!.sync.metrics().kept_aside).toBe(1);

  // The peer pulls the re-appended own events.
  await y.inbound!.sync.runCycle();
  expect(y.chain.head).toBe(x.chain.head);

  // Offered again: once the stranger's event is back in a chain (its author re-published it on y), the next sync
  // brings it here and the kept-aside entry is resolved.
  await y.chain.appendPublic({
    event_type: theirs.event_type, node_id: theirs.node_id, payload: theirs.payload, signature: theirs.signature, sequence: theirs.sequence,
    public_key: theirs.public_key, public_key_algo: theirs.public_key_algo, protocol_version: theirs.protocol_version,
  });
  await x.inbound!.sync.runCycle();
  expect(x.chain.head).toBe(y.chain.head);
  expect(x.inbound!.sync.metrics().kept_aside).toBe(0);
});

test('(d) an unreachable peer cools down one sync interval, not 120 s; its contact clears the cooldown and the ladder and brings the next cycle forward', async () => {
  const server = await startServer();
  const [sx, sy] = specs(2);
  const env = { MESH_SYNC_INTERVAL_S: '5' };
  const x = await start(server, sx, { env });
  const now = () => x.clock();
  const rep = await x.inbound!.sync.runCycle(); // y is not running: nobody answers
  expect(rep.outcome).toBe('error');
  const [rec] = x.inbound!.sync.peers();
  expect(rec.failures).toBe(1);
  expect(rec.cooldown_until - now()).toBeLessThanOrEqual(5);
  expect(rep.state.nextSyncDueAt - now()).toBeLessThanOrEqual(5);

  const y = await start(server, sy, { env });
  await y.inbound!.sync.runCycle(); // y's signed sync request is x's contact with y
  await waitFor(() => x.inbound!.sync.peers()[0].failures === 0, 10_000);
  expect(x.inbound!.sync.peers()[0]).toMatchObject({ failures: 0, cooldown_until: 0 });
  expect(x.inbound!.sync.state().consecutiveFailures).toBe(0);
  expect(x.inbound!.sync.state().nextSyncDueAt - now()).toBeLessThanOrEqual(0.2);
  expect(x.inbound!.sync.metrics().contact_heals_total).toBe(1);
});

test('(e) the machine\'s own timer: a contact re-arms it, so a cycle runs at once instead of after the ladder\'s 60 s', async () => {
  const server = await startServer();
  const [sx, sy] = specs(2);
  const x = await start(server, sx, { timer: true }); // default interval 300 s
  // The boot cycle finds nobody (y is not running) and puts the next one on the ladder.
  await waitFor(() => x.inbound!.sync.state().lastOutcome === 'error', 10_000);
  const due = x.inbound!.sync.state().nextSyncDueAt - x.clock();
  expect(due).toBeGreaterThan(30);
  const y = await start(server, sy);
  await y.inbound!.sync.runCycle(); // y's signed request: x's contact with y
  await waitFor(() => x.inbound!.sync.state().lastOutcome === 'ok', 10_000);
  expect(x.inbound!.sync.state().consecutiveFailures).toBe(0);
});

test('(f) a long chain (≥ 20) whose nodes appended concurrently: the short diverging tails are resolved, nothing lost (the original stayed forked for good)', async () => {
  const server = await startServer();
  const [sx, sy] = specs(2);
  const x = await start(server, sx);
  const y = await start(server, sy);
  for (let i = 0; i < 25; i++) await x.chain.appendLocal(generateIdentity(), 'message', messagePayload(i));
  await y.inbound!.sync.runCycle();
  expect(y.chain.head).toBe(x.chain.head);
  const acked = [
    ...(await Promise.all([0, 1].map((i) => x.chain.appendLocal(x.identity, 'message', messagePayload(100 + i))))),
    ...(await Promise.all([0, 1, 2].map((i) => y.chain.appendLocal(y.identity, 'message', messagePayload(200 + i))))),
  ].map(signedIdentity);

  const rep = await x.inbound!.sync.runCycle(); // y's tail (3) beats x's (2): x rebuilds and re-appends its 2
  expect(rep.outcome).toBe('ok');
  await y.inbound!.sync.runCycle();
  expect(y.chain.head).toBe(x.chain.head);
  expect(x.chain.length).toBe(30);
  const onY = new Set((await all(y)).map(signedIdentity));
  expect(acked.every((id) => onY.has(id))).toBe(true);
  expect(x.inbound!.sync.metrics()).toMatchObject({ rebuilds_total: 1, reappended_total: 2, kept_aside: 0 });
});
