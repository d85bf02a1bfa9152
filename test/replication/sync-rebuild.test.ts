// Rebuilding a short forked chain (spec §9.3 client loop item 2 (b), [tightening]; issue 8 item 6): own events
// are re-appended on top of the peer's chain, other authors' events kept aside durably (before the reset) and
// offered again; nothing is discarded. Real chain actors on real LevelDB directories.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChainActor } from '../../actors/chain-actor.js';
import { KeptAside, offerKeptAside, rebuildFromPeer, type RebuildChainPort } from '../../actors/sync-rebuild.js';
import { ErrorCodes } from '../../protocol/errors.js';
import { eventToWireJson, type ChainEvent } from '../../protocol/event.js';
import { generateIdentity, type Identity } from '../../protocol/identity.js';
import { loadSettings } from '../../protocol/settings.js';
import { signAppend } from '../../protocol/local-sign.js';
import { signedIdentity } from '../../protocol/sync-fork.js';
import { openDatabase, type Db } from '../../store/db.js';

interface Node { dir: string; db: Db; chain: ChainActor; kept: KeptAside }
const open: Node[] = [];
const dirs: string[] = [];
const settings = loadSettings({});

async function node(dir = mkdtempSync(join(tmpdir(), 'infonet-rebuild-'))): Promise<Node> {
  if (!dirs.includes(dir)) dirs.push(dir);
  const db = await openDatabase(dir);
  const chain = await ChainActor.start({ db, settings: settings.chain });
  const kept = await KeptAside.open(db, chain.ledger.store.committer);
  const n = { dir, db, chain, kept };
  open.push(n);
  return n;
}
async function close(n: Node): Promise<void> {
  open.splice(open.indexOf(n), 1);
  await n.chain.stop();
  await n.db.close();
}
afterEach(async () => {
  for (const n of [...open]) await close(n);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const msg = (text: string) => ({ message: text, destination: 'broadcast', channel: 'LongFast', priority: 'normal', ephemeral: false });
const wire = (events: ChainEvent[]): ChainEvent[] => events.map((e) => JSON.parse(eventToWireJson(e)) as ChainEvent);
async function all(chain: ChainActor): Promise<ChainEvent[]> {
  return chain.readRange(0, chain.length);
}

describe('rebuildFromPeer', () => {
  test('own events are re-appended on top of the peer chain (re-linked, same signatures); other authors kept aside, durably', async () => {
    const me: Identity = generateIdentity();
    const other = generateIdentity();
    const peer = await node();
    for (let i = 0; i < 4; i++) await peer.chain.appendLocal(generateIdentity(), 'message', msg(`peer ${i}`));
    const local = await node();
    await local.chain.appendLocal(other, 'message', msg('other author, only here'));
    await local.chain.appendLocal(me, 'message', msg('mine 1'));
    await local.chain.appendLocal(me, 'message', msg('mine 2'));
    const before = await all(local.chain);

    const r = await rebuildFromPeer({
      peer: 'nats://peer', chain: local.chain, kept: local.kept, peerEvents: wire(await all(peer.chain)), complete: true,
      ownNodeIds: new Set([me.nodeId]), identity: me, now: 1,
    });
    expect(r).toMatchObject({ accepted: 4, rejected: [], reappended: 2, keptAside: 1, alreadyThere: 0 });

    const after = await all(local.chain);
    expect(after.slice(0, 4).map((e) => e.event_id)).toEqual((await all(peer.chain)).map((e) => e.event_id));
    // Own events on top, in order, same signed content, new links.
    expect(after.slice(4).map(signedIdentity)).toEqual(before.slice(1).map(signedIdentity));
    expect(after[4].prev_hash).toBe(after[3].event_id);
    expect(after[4].event_id).not.toBe(before[1].event_id);
    // The other author's event waits in the kept-aside set — also after a restart.
    expect(local.kept.entries().map((k) => k.event.event_id)).toEqual([before[0].event_id]);
    expect(local.kept.metrics).toMatchObject({ kept_aside: 1, kept_aside_total: 3, reappended_total: 2, rebuilds_total: 1 });
    await close(local);
    const reopened = await node(local.dir);
    expect(reopened.kept.entries().map((k) => ({ id: k.event.event_id, own: k.own, peer: k.peer }))).toEqual([{ id: before[0].event_id, own: false, peer: 'nats://peer' }]);
  });

  test('the kept-aside set is on disk before the reset: a crash at the reset loses nothing', async () => {
    const me = generateIdentity();
    const peer = await node();
    await peer.chain.appendLocal(generateIdentity(), 'message', msg('peer'));
    const local = await node();
    await local.chain.appendLocal(me, 'message', msg('mine'));
    await local.chain.appendLocal(generateIdentity(), 'message', msg('theirs'));
    const before = await all(local.chain);
    const crashing: RebuildChainPort = Object.assign(Object.create(local.chain) as ChainActor, {
      rebuildFrom: () => Promise.reject(new Error('power cut')),
    });
    await expect(rebuildFromPeer({
      peer: 'p', chain: crashing, kept: local.kept, peerEvents: wire(await all(peer.chain)), complete: true,
      ownNodeIds: new Set([me.nodeId]), identity: me, now: 1,
    })).rejects.toThrow('power cut');
    await close(local);
    const reopened = await node(local.dir);
    expect(reopened.kept.entries().map((k) => [k.event.event_id, k.own])).toEqual([[before[0].event_id, true], [before[1].event_id, false]]);
  });

  test('an append racing the rebuild is never lost: either the rebuild is refused (head moved) or it lands on the rebuilt chain', async () => {
    const me = generateIdentity();
    const peer = await node();
    for (let i = 0; i < 3; i++) await peer.chain.appendLocal(generateIdentity(), 'message', msg(`peer ${i}`));
    const local = await node();
    await local.chain.appendLocal(me, 'message', msg('mine'));
    const rebuilding = rebuildFromPeer({
      peer: 'p', chain: local.chain, kept: local.kept, peerEvents: wire(await all(peer.chain)), complete: true,
      ownNodeIds: new Set([me.nodeId]), identity: me, now: 1,
    }).then(() => 'rebuilt', (e: Error) => e.message);
    const racing = await local.chain.appendLocal(generateIdentity(), 'message', msg('racing append'));
    const outcome = await rebuilding;
    const have = new Set([...(await all(local.chain)), ...local.kept.entries().map((k) => k.event)].map(signedIdentity));
    expect(have.has(signedIdentity(racing))).toBe(true);
    expect(['rebuilt', 'local chain moved during the fork rebuild; nothing changed']).toContain(outcome);
  });
});

describe('ChainActor.rebuildFrom', () => {
  test('all or nothing: a peer chain with a bad event leaves the previous chain in place', async () => {
    const peer = await node();
    for (let i = 0; i < 3; i++) await peer.chain.appendLocal(generateIdentity(), 'message', msg(`peer ${i}`));
    const bad = wire(await all(peer.chain));
    bad[2] = { ...bad[2], signature: bad[1].signature };
    const local = await node();
    for (let i = 0; i < 4; i++) await local.chain.appendLocal(generateIdentity(), 'message', msg(`local ${i}`));
    const before = (await all(local.chain)).map((e) => e.event_id);
    const out = await local.chain.rebuildFrom(bad, local.chain.head);
    expect(out.accepted).toBe(0);
    expect(out.rejected[0]).toMatchObject({ index: 2 });
    expect((await all(local.chain)).map((e) => e.event_id)).toEqual(before);
    // And after a restart (the restore was durable).
    await close(local);
    const again = await node(local.dir);
    expect((await all(again.chain)).map((e) => e.event_id)).toEqual(before);
  });

  test('a rebuild is a fork application: peer events older than the freshness window are accepted (§3.4 applies to ingest only)', async () => {
    const peer = await node();
    const old = generateIdentity();
    const input = signAppend(old, 'message', msg('two days old'), 1, Date.now() / 1000 - 2 * 86400);
    await peer.chain.appendPublic(input);
    const local = await node();
    const out = await local.chain.rebuildFrom(wire(await all(peer.chain)), local.chain.head);
    expect(out).toMatchObject({ accepted: 1, rejected: [] });
  });
});

describe('offerKeptAside', () => {
  test('an entry the chain holds is dropped; another author\'s event that fits is ingested; one that does not waits', async () => {
    const src = await node();
    const a = generateIdentity();
    await src.chain.appendLocal(a, 'message', msg('one'));
    await src.chain.appendLocal(a, 'message', msg('two'));
    const [one, two] = wire(await all(src.chain));
    const local = await node();
    await local.kept.add([
      { event: two, own: false, kept_at: 1, peer: 'p' },
      { event: one, own: false, kept_at: 1, peer: 'p' },
    ]);
    // Chain empty: `one` links to genesis and fits; `two` fits only after it — one pass takes `one`.
    const r1 = await offerKeptAside(local.chain, local.kept, undefined);
    expect(r1).toMatchObject({ reingested: 1, waiting: 1 });
    expect(local.chain.head).toBe(one.event_id);
    // The next offer (next sync) takes `two`.
    const r2 = await offerKeptAside(local.chain, local.kept, undefined);
    expect(r2).toMatchObject({ reingested: 1, waiting: 0 });
    expect(local.chain.head).toBe(two.event_id);
    expect(local.kept.entries()).toHaveLength(0);
    // Kept again although present: resolved, not re-added to the chain.
    await local.kept.add([{ event: one, own: false, kept_at: 1, peer: 'p' }]);
    expect(await offerKeptAside(local.chain, local.kept, undefined)).toMatchObject({ resolved: 1, reingested: 0, waiting: 0 });
    expect(local.chain.length).toBe(2);
  });

  test('an own event whose sequence is taken is signed again at the next sequence (same author and payload)', async () => {
    const me = generateIdentity();
    const src = await node();
    await src.chain.appendLocal(me, 'message', msg('old, seq 1'));
    const [old] = wire(await all(src.chain));
    const local = await node();
    await local.chain.appendLocal(me, 'message', msg('newer, seq 1 here too'));
    await local.kept.add([{ event: old, own: true, kept_at: 1, peer: 'p' }]);
    const r = await offerKeptAside(local.chain, local.kept, me);
    expect(r).toMatchObject({ reappended: 1, waiting: 0 });
    const [, re] = await all(local.chain);
    expect(re).toMatchObject({ node_id: me.nodeId, sequence: 2, payload: old.payload });
  });

  test('an own event that no longer passes the rules stays kept aside with the reason', async () => {
    const me = generateIdentity();
    const src = await node();
    await src.chain.appendLocal(me, 'message', msg('x'));
    const [ev] = wire(await all(src.chain));
    const local = await node();
    await local.chain.appendLocal(me, 'message', msg('y'));
    await local.kept.add([{ event: ev, own: true, kept_at: 1, peer: 'p' }]);
    // Without the key it cannot be re-signed: the replay rejection is reported and the entry kept.
    const r = await offerKeptAside(local.chain, local.kept, undefined);
    expect(r.reappended).toBe(0);
    expect(r.waiting).toBe(1);
    expect(r.failures[0]).toMatch(/Replay/);
    expect(local.kept.entries()).toHaveLength(1);
    expect(ErrorCodes.REPLAY).toBe('replay');
  });
});
