// bench:gates (issue 12): post → decrypted by a member on another node, p50/p99 and posts/s, for gates of 2 and of
// 50 members, and the cost of an Add and a Remove commit at 50 members. Two real nodes (own LevelDB chains, the real
// append and ingest paths, one relay for the Welcomes); the other 48 members are key packages of synthetic personas
// (they never read, which does not change what A and B do). Baseline in the same run: bare ts-mls encrypt+decrypt.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openChainAt, type OpenedChain } from '../actors/open-chain.js';
import { MailboxRegistry } from '../actors/mailbox-registry.js';
import { mlsHostOf } from '../mls/host.js';
import * as mls from '../mls/mls-engine.js';
import { MlsOwner } from '../mls/mls-owner.js';
import { generateIdentity } from '../protocol/identity.js';
import { generateWelcomeKeypair } from '../protocol/welcome-seal.js';
import { defaultSettings } from '../protocol/settings.js';
import { MailboxStore } from '../store/mailbox-store.js';
import { MlsStore } from '../store/mls-store.js';
import { machineLine, percentile, rate } from './machine.js';

const POSTS = Number(process.env.BENCH_GATE_POSTS ?? 200);
const dirs: string[] = [];
const tmp = (p: string): string => {
  const d = mkdtempSync(join(tmpdir(), p));
  dirs.push(d);
  return d;
};

interface BenchNode { opened: OpenedChain; owner: MlsOwner; copied: number }

async function main(): Promise<void> {
  console.log(machineLine());
  const s = defaultSettings();
  const relayOpened = await openChainAt(tmp('gb-relay-'), { settings: s.chain });
  const relay = await MailboxRegistry.open(new MailboxStore(relayOpened.db, relayOpened.chain.ledger.store.committer), { settings: { ...s.relay, requestMailboxLimit: 100 }, spoolTtlS: s.chain.spool.ttlS });
  const node = async (name: string): Promise<BenchNode> => {
    const dir = tmp(`gb-${name}-`);
    const opened = await openChainAt(dir, { settings: s.chain });
    const owner = await MlsOwner.open(MlsStore.open(opened.db, opened.chain.ledger.store.committer, dir), mlsHostOf(opened.chain, generateIdentity(), relay, () => Date.now() / 1000));
    return { opened, owner, copied: 0 };
  };
  // B receives A's new events through the real ingest path (what sync does between nodes).
  const copy = async (from: BenchNode, to: BenchNode): Promise<void> => {
    const events = await from.opened.chain.readRange(from.copied, from.opened.chain.length - from.copied);
    from.copied += events.length;
    if (events.length) await to.opened.chain.ingest(events.map((e) => JSON.parse(JSON.stringify(e))));
  };

  // Baseline: bare ts-mls application message encrypt + decrypt between two members.
  {
    const ka = await mls.newSignatureKeys();
    const kb = await mls.newSignatureKeys();
    let ga = await mls.newGroup('baseline', 'a', ka);
    const kp = await mls.newKeyPackage('b', kb);
    const added = await mls.addMembers(ga, [kp.publicBytes]);
    ga = added.state;
    let gb = await mls.join(added.welcome!, kp.publicBytes, kp.privatePackage);
    const t = performance.now();
    for (let i = 0; i < POSTS; i++) {
      const e = await mls.encryptApplication(ga, new Uint8Array(512));
      ga = e.state;
      gb = (await mls.processMessage(gb, e.message)).state;
    }
    const ms = performance.now() - t;
    console.log(`baseline: bare ts-mls encrypt+decrypt ${rate(POSTS, ms)}/s (${(ms / POSTS).toFixed(2)} ms each)`);
  }

  for (const members of [2, 50]) {
    const a = await node('a');
    const b = await node('b');
    await a.owner.create({ gate_id: `g${members}`, persona: 'alice' });
    const kpB = await b.owner.keyPackage({ persona: 'bob' });
    await a.owner.invite({ gate: `g${members}`, ...kpB });
    let addMs = 0;
    for (let i = 2; i < members; i++) {
      const keys = await mls.newSignatureKeys();
      const kp = await mls.newKeyPackage(`m${i}`, keys);
      const dh = generateWelcomeKeypair();
      const t = performance.now();
      await a.owner.invite({ gate: `g${members}`, mls_key_package: Buffer.from(kp.publicBytes).toString('base64'), welcome_dh_pub: dh.publicHex, recipient_id: `mls-synthetic-${members}-${i}` });
      addMs = performance.now() - t;
    }
    await copy(a, b);
    await b.owner.accept({ persona: 'bob' });
    await b.owner.read({ gate: `g${members}` });

    const lat: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < POSTS; i++) {
      const t = performance.now();
      await a.owner.post({ gate: `g${members}`, text: `post ${i} ${'x'.repeat(100)}` });
      await copy(a, b);
      const r = await b.owner.read({ gate: `g${members}`, after: i - 1, limit: 1 });
      if ((r.messages as unknown[]).length !== 1) throw new Error(`post ${i} not decrypted by B`);
      lat.push(performance.now() - t);
    }
    const total = performance.now() - t0;
    lat.sort((x, y) => x - y);
    console.log(`gate of ${members}: post on A → decrypted on B p50 ${percentile(lat, 50).toFixed(2)} ms, p99 ${percentile(lat, 99).toFixed(2)} ms, ${rate(POSTS, total)} posts/s (n=${POSTS})`);
    if (members === 50) {
      console.log(`gate of 50: Add commit (49 → 50 members, incl. sealed Welcome deposit and durable append): ${addMs.toFixed(1)} ms`);
      const t = performance.now();
      const rm = await a.owner.remove({ gate: 'g50', member: 'm2' });
      const removeMs = performance.now() - t;
      await copy(a, b);
      const tb = performance.now();
      await b.owner.read({ gate: 'g50', limit: 1 });
      console.log(`gate of 50: Remove commit ${removeMs.toFixed(1)} ms at the committer (${(rm.event_ids as string[]).length} chain events), ${(performance.now() - tb).toFixed(1)} ms to process at a member`);
    }
    await a.owner.close();
    await b.owner.close();
    await a.opened.close();
    await b.opened.close();
  }
  await relay.close();
  await relayOpened.close();
}

main().then(
  () => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); },
  (e) => { console.error(e); for (const d of dirs) rmSync(d, { recursive: true, force: true }); process.exitCode = 1; },
);
