// The batch replicate route as ONE registry command (issue 14): a request's envelopes are decided exactly as one
// acceptReplica each (same answers, one mailbox's items in request order) and written in one durable write, whether
// their mailboxes are new, live, or passivated on disk; a stored replica is durable before the answer (it survives
// a reopen of the data directory).
import { createPeerApplication } from '../../peer/app.js';
import type { PeerApp } from '../../peer/app.js';
import { openFixture, removeTempDirs, sharedEnvelope, signed, type Fixture } from './inbound-helpers.js';

const PEER = 'http://example-peer.onion:8000';
const SECRETS = { pushSecret: 'global-secret' };
const ENV = { MESH_PEER_PUSH_SECRET: 'global-secret', MESH_RELAY_PEERS: PEER };

async function post(app: PeerApp, envelopes: unknown[]): Promise<{ results: Array<Record<string, unknown>>; accepted: number; duplicates: number; rejected: number }> {
  const { headers, body } = signed(PEER, { envelopes }, SECRETS);
  const r = await app.handle({
    method: 'POST', path: '/api/mesh/dm/replicate-envelopes', query: new URLSearchParams(), body: Buffer.from(body), headers,
    remoteAddress: '127.0.0.1', via: 'http',
  });
  expect(r.status).toBe(200);
  return r.json as never;
}

describe('replicate-envelopes: one registry command, one durable write per request', () => {
  let fx: Fixture;
  afterEach(async () => {
    await fx?.close();
    removeTempDirs();
  });

  test('new, live and passivated mailboxes in one request: one committer write, answers as acceptReplica gives them', async () => {
    fx = await openFixture({ env: ENV });
    const app = createPeerApplication({ chain: fx.chain, mailboxes: fx.mailboxes, settings: fx.settings, clock: fx.clock });
    await fx.mailboxes.acceptReplica(sharedEnvelope('dm_live_0', 'tok-live', 'ref-l'), PEER);
    await fx.mailboxes.acceptReplica(sharedEnvelope('dm_cold_0', 'tok-cold', 'ref-c'), PEER);
    expect(fx.mailboxes.passivateIdle(-1)).toBe(2);
    await fx.mailboxes.acceptReplica(sharedEnvelope('dm_live_1', 'tok-live', 'ref-l'), PEER); // live again
    const writes0 = countWrites(fx);
    const r = await post(app, [
      sharedEnvelope('dm_new_0', 'tok-new', 'ref-n'),
      sharedEnvelope('dm_live_0', 'tok-live', 'ref-l'), // duplicate in a live mailbox
      sharedEnvelope('dm_cold_1', 'tok-cold', 'ref-c'), // second unsigned replica from this peer: at the cap of 2
      sharedEnvelope('dm_cold_2', 'tok-cold', 'ref-c'), // third: over the per-sender cap
      { msg_id: 'x' }, // missing fields
      sharedEnvelope('dm_new_1', 'tok-new', 'ref-n'),
      sharedEnvelope('dm_new_1', 'tok-new', 'ref-n'), // the same message twice in one request
    ]);
    expect(writes0()).toBe(1);
    expect(r.results.map((x) => [x.ok, x.duplicate ?? false])).toEqual([
      [true, false], [true, true], [true, false], [false, false], [false, false], [true, false], [true, true],
    ]);
    expect(r.results[3].detail).toBe('Per-sender cap reached on this relay; refusing replica');
    expect(r.results[4].detail).toBe('envelope missing required fields');
    expect({ accepted: r.accepted, duplicates: r.duplicates, rejected: r.rejected }).toEqual({ accepted: 3, duplicates: 2, rejected: 2 });

    // Durable before the answer: a reopen of the same data directory finds every accepted message, in order.
    const dir = fx.dir;
    await fx.close();
    fx = await openFixture({ env: ENV, dir });
    expect(await fx.mailboxes.pendingIds('x', [{ type: 'shared', token: 'tok-new' }])).toEqual(['dm_new_0', 'dm_new_1']);
    expect(await fx.mailboxes.pendingIds('x', [{ type: 'shared', token: 'tok-cold' }])).toEqual(['dm_cold_0', 'dm_cold_1']);
    expect(await fx.mailboxes.pendingIds('x', [{ type: 'shared', token: 'tok-live' }])).toEqual(['dm_live_0', 'dm_live_1']);
  });
});

/** Counts the mailbox store's writes from now on (returns the counter). */
function countWrites(fx: Fixture): () => number {
  const store = fx.mailboxes.store;
  const original = store.write.bind(store);
  let n = 0;
  store.write = (ops) => {
    n++;
    return original(ops);
  };
  return () => n;
}
