// Real infonet nodes linked ONLY over RNS (each has its own embedded nats-server, no federation, no HTTP peers):
// B runs an RNS TCP server interface, A and C connect to it (partial mesh A↔B↔C). Every peer operation travels as
// RNS request/response messages with the §8 HMAC for the nodes' rns:// URLs: DM push, ack, pull, and sync with
// private events (RNS callers are private callers).
import { randomBytes } from 'node:crypto';
import { freePort } from '../../bus/nats-server.js';
import { resolveConfig } from '../../node/config.js';
import { InfonetNode } from '../../node/infonet-node.js';
import { generateIdentity } from '../../protocol/identity.js';
import { signMailboxRequest, toMailboxProof } from '../../protocol/mailbox-access.js';
import { loadOrCreateIdentity } from '../../transports/rns/identity-file.js';
import { INFONET_NODE_NAME, singleDestinationHash } from '../../transports/rns/names.js';
import { waitFor } from '../helpers/nats.js';
import { removeTempDirs, silentLogger, tempDataDir } from '../node/helpers.js';

const SECRET = 'rns-nodes-secret';
const RATE_LIMITS = { dm_replicate_envelope: 100_000, dm_replicate_envelopes: 100_000, dm_ack: 100_000, dm_pull: 100_000, infonet_peer_push: 100_000, infonet_sync: 100_000 };
const token = (): string => randomBytes(16).toString('hex');
const dm = (tok: string) => ({ sender_id: 'alice', ciphertext: randomBytes(48).toString('base64'), delivery_class: 'shared', recipient_token: tok });
const claims = (tok: string) => [{ type: 'shared', token: tok }];
const bob = generateIdentity();
let nonce = 0;
const proof = (tok: string) => toMailboxProof(signMailboxRequest(bob, 'poll', { claims: claims(tok), timestamp: Date.now() / 1000, nonce: `n${++nonce}` }));

interface Spec {
  dir: string;
  url: string;
}
const specOf = (): Spec => {
  const dir = tempDataDir('rns-node-');
  // The RNS identity is created in the data directory first, so every node's rns:// URL is known before start.
  const id = loadOrCreateIdentity(dir);
  return { dir, url: `rns://${singleDestinationHash(INFONET_NODE_NAME, id.hash).toString('hex')}` };
};

const running: InfonetNode[] = [];
afterAll(async () => {
  for (const n of running) await n.stop();
  removeTempDirs();
});

async function start(s: Spec, peers: Spec[], rnsEnv: Record<string, string>): Promise<InfonetNode> {
  // MESH_RELAY_FAILURE_COOLDOWN_S: B's boot sync finds A and C not up yet, and a sync that times out under load would
  // park the peer for the 120 s default (a contact heals that only once per interval), past the sync waits below.
  const env = {
    MESH_PEER_PUSH_SECRET: SECRET, MESH_RELAY_PEERS: peers.map((p) => p.url).join(','), MESH_RNS_ANNOUNCE_INTERVAL_S: '0',
    MESH_RELAY_FAILURE_COOLDOWN_S: '1', ...rnsEnv,
  };
  const node = await InfonetNode.start({ dataDir: s.dir, logger: silentLogger(), config: resolveConfig({ env }), inbound: { rateLimits: RATE_LIMITS } });
  running.push(node);
  return node;
}

test('DM push, ack, pull and sync with private events between nodes linked only over RNS', async () => {
  const [sa, sb, sc] = [specOf(), specOf(), specOf()];
  const port = await freePort();
  const b = await start(sb, [sa, sc], { MESH_RNS_TCP_LISTEN: `127.0.0.1:${port}` });
  const a = await start(sa, [sb], { MESH_RNS_TCP_CONNECT: `127.0.0.1:${port}` });
  const c = await start(sc, [sb], { MESH_RNS_TCP_CONNECT: `127.0.0.1:${port}` });

  // Status: the node's destination hash, its interfaces, known paths and per-peer link state; rns:// advertised.
  expect(a.settings.peers.publicPeerUrl).toBe(sa.url);
  await waitFor(async () => {
    const st = (await b.status()).transports as unknown as { rns: { paths: { destination: string }[] } };
    return st.rns.paths.length === 2;
  }, 10_000);
  const rnsA = ((await a.status()).transports as unknown as { rns: { destination_hash: string; interfaces: { kind: string; state: string }[] } }).rns;
  expect(`rns://${rnsA.destination_hash}`).toBe(sa.url);
  expect(rnsA.interfaces).toEqual([expect.objectContaining({ kind: 'tcp-client', state: 'connected' })]);

  // DM push A → B over RNS.
  const tok = token();
  const r = await a.mailboxes.deposit(dm(tok));
  await waitFor(async () => (await b.mailboxes.count('bob', claims(tok))) === 1, 15_000);
  expect(await b.mailboxes.pendingIds('bob', claims(tok))).toEqual([r.msg_id]);
  await waitFor(() => a.replication!.metrics.get('dm_replication_push_ok') === 1, 10_000);

  // Pull: Bob polls C, which nobody pushes to; C pulls from B over RNS. C's claim acks to B, which prunes its copy.
  expect(await c.mailboxes.count('bob', claims(tok))).toBe(0);
  const polled = await c.mailboxes.poll(bob.nodeId, claims(tok), undefined, proof(tok));
  expect(polled.messages.map((m) => m.msg_id)).toEqual([r.msg_id]);
  expect(c.replication!.metrics.get('dm_pull_accepted')).toBe(1);
  await waitFor(async () => (await b.mailboxes.count('bob', claims(tok))) === 0, 15_000);
  await waitFor(() => c.replication!.metrics.get('dm_ack_push_ok') >= 1, 10_000); // counted when B's answer arrives

  // Sync with private events in both directions (RNS callers are private callers): B — the node with only a TCP
  // server interface — pulls A's chain, the DM event included, then A pulls B's.
  const author = generateIdentity();
  await a.chain.appendLocal(author, 'message', { message: 'hi over rns', destination: 'broadcast', channel: 'LongFast', priority: 'normal', ephemeral: false });
  await a.chain.appendLocal(generateIdentity(), 'dm_message', {
    recipient_id: 'bob-agent', delivery_class: 'request', recipient_token: '', ciphertext: Buffer.from('cipher-rns-dm-1').toString('base64'),
    msg_id: 'rns-dm-1', timestamp: Math.floor(Date.now() / 1000), format: 'mls1', transport_lock: 'private_strong',
  });
  await waitFor(async () => {
    const rep = await b.inbound!.sync.runCycle();
    return rep.outcome === 'ok' && b.chain.head === a.chain.head;
  }, 20_000);
  expect((await b.chain.readRange(0, 10)).map((e) => e.event_type)).toEqual(['message', 'dm_message']);

  await b.chain.appendLocal(author, 'message', { message: 'back over rns', destination: 'broadcast', channel: 'LongFast', priority: 'normal', ephemeral: false });
  await waitFor(async () => {
    const rep = await a.inbound!.sync.runCycle();
    return rep.outcome === 'ok' && a.chain.head === b.chain.head;
  }, 20_000);
  expect((await a.chain.readRange(0, 10)).map((e) => e.event_type)).toEqual(['message', 'dm_message', 'message']);
}, 180_000); // the waits above add up to 100 s; jest's 60 s default cut the test short at load 30 on 2 cores
