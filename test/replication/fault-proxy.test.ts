// Outbound replication through a fault-injecting TCP proxy (test/helpers/fault-proxy.ts) to a real receiving node's
// peer listener: requests cut before they arrive, answers cut after the receiver stored the envelope, duplicated
// requests on the wire. Whatever the faults, once the path heals every deposit is on the receiver exactly once and
// the sender's outbox is empty — nothing lost, nothing doubled.
import { createPeerApplication } from '../../peer/app.js';
import { startPeerHttpServer, type PeerHttpServer } from '../../transports/http-server.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { waitFor } from '../helpers/nats.js';
import { openFixture, type Fixture } from './inbound-helpers.js';
import { SECRET, openSender, removeTempDirs, sharedDm, type Sender } from './outbound-helpers.js';

const SELF = 'http://127.0.0.1:7101';

describe('replication through a faulty link', () => {
  let receiver: Fixture;
  let listener: PeerHttpServer;
  let proxy: FaultProxy;
  let sender: Sender;
  beforeEach(async () => {
    receiver = await openFixture({ env: { MESH_PEER_PUSH_SECRET: SECRET, MESH_RELAY_PEERS: SELF } });
    listener = await startPeerHttpServer(createPeerApplication(receiver));
    proxy = await startFaultProxy(listener.port);
    sender = await openSender({ selfUrl: SELF, peers: [proxy.url], policy: { baseS: 600 } });
  });
  afterEach(async () => {
    await sender.close();
    await proxy.close();
    await listener.close();
    await receiver.close();
    removeTempDirs();
  });

  const onReceiver = async (tokens: string[]): Promise<number[]> =>
    Promise.all(tokens.map((t) => receiver.mailboxes.count('x', [{ type: 'shared', token: t }])));

  test('peer cut mid-push (request cut, then answer cut after the store): the outbox retries, every DM arrives once', async () => {
    const m = sender.replicator.metrics;
    // Phase 1: every connection is cut after 120 request bytes — the headers never complete.
    proxy.set({ cutUpAfterBytes: 120 });
    const tokens: string[] = [];
    for (let i = 0; i < 6; i++) {
      const dm = sharedDm();
      tokens.push(dm.recipient_token);
      expect((await sender.mailboxes.deposit(dm)).ok).toBe(true);
    }
    await waitFor(() => m.get('dm_replication_push_error') >= 1 && proxy.stats.cuts >= 1);
    expect(await onReceiver(tokens)).toEqual(tokens.map(() => 0));

    // Phase 2: requests pass, answers are cut after one byte — the receiver stores, the sender cannot know.
    proxy.set({ cutDownAfterBytes: 1 });
    const cutsBefore = proxy.stats.cuts;
    // retryNow is a nudge a link in the middle of an attempt ignores: nudge again until the condition holds.
    await waitFor(async () => {
      sender.replicator.retryNow();
      return proxy.stats.cuts > cutsBefore && (await onReceiver(tokens)).some((n) => n === 1);
    });
    expect(await sender.outbox.count()).toBeGreaterThan(0);

    // Heal: the retries deliver the rest; the ones already stored are answered as duplicates.
    proxy.set({});
    await waitFor(async () => {
      sender.replicator.retryNow();
      return (await sender.outbox.count()) === 0;
    }, 20_000);
    expect(await onReceiver(tokens)).toEqual(tokens.map(() => 1));
    expect(proxy.stats.cuts).toBeGreaterThanOrEqual(2);
  });

  test('duplicated requests on the wire store nothing twice', async () => {
    proxy.set({ duplicateUp: true });
    const tokens: string[] = [];
    for (let i = 0; i < 4; i++) {
      const dm = sharedDm();
      tokens.push(dm.recipient_token);
      await sender.mailboxes.deposit(dm);
    }
    await waitFor(() => proxy.stats.duplicatedUp > 0);
    proxy.set({});
    await waitFor(async () => {
      sender.replicator.retryNow();
      return (await sender.outbox.count()) === 0;
    }, 20_000);
    expect(proxy.stats.duplicatedUp).toBeGreaterThan(0);
    expect(await onReceiver(tokens)).toEqual(tokens.map(() => 1));
  });

  test('a peer that refuses connections leaves the item queued; it goes out when the peer is back', async () => {
    proxy.set({ refuse: true });
    const dm = sharedDm();
    await sender.mailboxes.deposit(dm);
    await waitFor(() => proxy.stats.refused >= 1 && sender.replicator.metrics.get('dm_replication_push_error') >= 1);
    expect(await sender.outbox.count()).toBe(1);
    proxy.set({});
    await waitFor(async () => {
      sender.replicator.retryNow();
      return (await sender.outbox.count()) === 0;
    }, 20_000);
    expect(await onReceiver([dm.recipient_token])).toEqual([1]);
  });
});
