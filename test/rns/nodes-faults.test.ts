// Two real nodes linked only over RNS with a frame relay between them (test/rns/frame-relay.ts): proofs dropped and
// data frames duplicated on the way, then the link cut. Every DM deposited on A is in B's mailbox exactly once, and
// replication resumes once A's RNS client interface has reconnected and both sides re-announced.
import { randomBytes } from 'node:crypto';
import { PacketType } from '../../transports/rns/constants.js';
import { resolveConfig } from '../../node/config.js';
import { InfonetNode } from '../../node/infonet-node.js';
import { freePort } from '../../bus/nats-server.js';
import { loadOrCreateIdentity } from '../../transports/rns/identity-file.js';
import { INFONET_NODE_NAME, singleDestinationHash } from '../../transports/rns/names.js';
import { waitFor } from '../helpers/nats.js';
import { removeTempDirs, silentLogger, tempDataDir } from '../node/helpers.js';
import { FrameRelay, type FramePolicy } from './frame-relay.js';

const SECRET = 'rns-faults-secret';
const RATE_LIMITS = { dm_replicate_envelope: 100_000, dm_replicate_envelopes: 100_000, dm_ack: 100_000, dm_pull: 100_000, infonet_peer_push: 100_000, infonet_sync: 100_000 };
const running: InfonetNode[] = [];
let relay: FrameRelay | null = null;
afterAll(async () => {
  for (const n of running) await n.stop();
  await relay?.stop();
  removeTempDirs();
});

const urlOf = (dir: string) => `rns://${singleDestinationHash(INFONET_NODE_NAME, loadOrCreateIdentity(dir).hash).toString('hex')}`;

test('lost proofs and duplicated frames between nodes: each DM exactly once; a cut link resumes', async () => {
  const [da, db] = [tempDataDir('rns-fa-'), tempDataDir('rns-fb-')];
  const port = await freePort();
  const start = async (dir: string, env: Record<string, string>) => {
    const node = await InfonetNode.start({ dataDir: dir, logger: silentLogger(), inbound: { rateLimits: RATE_LIMITS }, config: resolveConfig({ env: { MESH_PEER_PUSH_SECRET: SECRET, MESH_RNS_ANNOUNCE_INTERVAL_S: '0', ...env } }) });
    running.push(node);
    return node;
  };
  const b = await start(db, { MESH_RELAY_PEERS: urlOf(da), MESH_RNS_TCP_LISTEN: `127.0.0.1:${port}` });
  let proofs = 0;
  let data = 0;
  const policy: FramePolicy = (_dir, p) => {
    if (p.packetType === PacketType.PROOF) return ++proofs % 3 === 0 ? 'drop' : 'pass';
    if (p.packetType === PacketType.DATA) return ++data % 4 === 0 ? 'dup' : 'pass';
    return 'pass';
  };
  relay = new FrameRelay({ host: '127.0.0.1', port }, policy);
  const relayPort = await relay.start();
  const a = await start(da, { MESH_RELAY_PEERS: urlOf(db), MESH_RNS_TCP_CONNECT: `127.0.0.1:${relayPort}` });

  const deposited = new Map<string, number>();
  b.mailboxes.events$.subscribe((e) => {
    if (e.type === 'deposited') deposited.set(e.msg_id, (deposited.get(e.msg_id) ?? 0) + 1);
  });
  const send = async (n: number) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await a.mailboxes.deposit({ sender_id: `alice-${randomBytes(4).toString('hex')}`, ciphertext: randomBytes(48).toString('base64'), delivery_class: 'shared', recipient_token: randomBytes(16).toString('hex') });
      ids.push(r.msg_id);
    }
    return ids;
  };
  const first = await send(6);
  await waitFor(() => first.every((id) => deposited.get(id) === 1), 30_000);
  expect(relay.stats.dropped).toBeGreaterThan(0);
  expect(relay.stats.duplicated).toBeGreaterThan(0);

  const announcesBefore = a.rns!.endpoint.counters.announcesAccepted;
  relay.cut();
  await waitFor(() => a.rns!.endpoint.counters.announcesAccepted > announcesBefore, 30_000); // reconnected, re-announced
  const second = await send(2);
  await waitFor(() => second.every((id) => deposited.get(id) === 1), 30_000);
  await a.replication!.whenIdle();
  expect([...deposited.values()].every((n) => n === 1)).toBe(true);
  expect(deposited.size).toBe(8);
});
