// [tightening] §7.7.6: a chain DM is delivered exactly once, however often its event is hydrated —
// before the claim, after the claim, after a restart, concurrently.
import fc from 'fast-check';
import { REQUEST_CLAIM, dmEvent, inChain, openRelay, removeDir, type Relay } from './helpers.js';

let r: Relay;
beforeEach(async () => { r = await openRelay(); });
afterEach(async () => { await r.close().catch(() => undefined); removeDir(r.dir); });

test('re-hydrating the same chain DM before and after claim: delivered exactly once', async () => {
  const ev = dmEvent('dm-once', { now: r.clock() });
  const isIn = inChain([ev]);
  expect(await r.registry.hydrateFromChain([ev, ev], isIn)).toBe(2);
  expect(await r.registry.count('recipient-a', REQUEST_CLAIM)).toBe(1);
  expect(await r.registry.hydrateFromChain([ev], isIn)).toBe(1);
  const first = await r.registry.poll('recipient-a', REQUEST_CLAIM);
  expect(first.messages.map((m) => m.msg_id)).toEqual(['dm-once']);
  expect(await r.registry.hydrateFromChain([ev], isIn)).toBe(1);
  expect((await r.registry.poll('recipient-a', REQUEST_CLAIM)).messages).toEqual([]);
  r = await r.reopen();
  expect(await r.registry.hydrateFromChain([ev], isIn)).toBe(1);
  expect((await r.registry.poll('recipient-a', REQUEST_CLAIM)).messages).toEqual([]);
  // Long after every TTL, still never again.
  r.clock.advance(10 * 86400);
  const later = dmEvent('dm-once', { now: r.clock() }); // same event id, "fresh" timestamp
  expect(later.event_id).toBe(ev.event_id);
  expect(await r.registry.hydrateFromChain([later], inChain([later]))).toBe(1);
  expect((await r.registry.poll('recipient-a', REQUEST_CLAIM)).messages).toEqual([]);
});

test('concurrent hydrations of one event deliver it once', async () => {
  const ev = dmEvent('dm-conc', { now: r.clock() });
  const isIn = inChain([ev]);
  await Promise.all([1, 2, 3, 4].map(() => r.registry.hydrateFromChain([ev], isIn)));
  const polled = await r.registry.poll('recipient-a', REQUEST_CLAIM);
  expect(polled.messages).toHaveLength(1);
  await Promise.all([1, 2].map(() => r.registry.hydrateFromChain([ev], isIn)));
  expect(await r.registry.count('recipient-a', REQUEST_CLAIM)).toBe(0);
});

test('property: any interleaving of hydrate / poll / restart delivers each chain DM exactly once', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.oneof(fc.constant('hydrate' as const), fc.constant('poll' as const), fc.constant('restart' as const)), { minLength: 1, maxLength: 10 }),
      async (ops) => {
        const base = r.clock();
        // Two senders (distinct events), one recipient: per-sender and mailbox caps are not in play.
        const events = [dmEvent(`p-${base}-a`, { now: base }), dmEvent(`p-${base}-b`, { now: base, nodeId: '!sb_' + 'b'.repeat(32) })];
        const isIn = inChain(events);
        const delivered: string[] = [];
        for (const op of [...ops, 'hydrate' as const, 'poll' as const]) {
          if (op === 'hydrate') await r.registry.hydrateFromChain(events, isIn);
          else if (op === 'poll') delivered.push(...(await r.registry.poll('recipient-a', REQUEST_CLAIM)).messages.map((m) => m.msg_id));
          else r = await r.reopen();
        }
        expect(delivered.sort()).toEqual(events.map((e) => e.payload.msg_id as string).sort());
        r.clock.advance(1);
      },
    ),
    { numRuns: 25 },
  );
});

test('a list of chain DMs is hydrated in ONE durable write, each decided as alone (caps in list order)', async () => {
  // K1 may have 2 pending per recipient mailbox (MESH_DM_PENDING_PER_SENDER_LIMIT): the third to recipient-a is refused.
  const evs = [
    dmEvent('dm-a1', { now: r.clock() }), dmEvent('dm-b1', { now: r.clock(), recipientId: 'recipient-b' }),
    dmEvent('dm-a2', { now: r.clock() }), dmEvent('dm-a3', { now: r.clock() }),
    dmEvent('dm-c1', { now: r.clock(), recipientId: 'recipient-c' }),
  ];
  const writes: number[] = [];
  const write = r.store.write.bind(r.store);
  r.store.write = (ops) => {
    writes.push(ops.length);
    return write(ops);
  };
  const announced: string[] = [];
  const sub = r.registry.events$.subscribe((e) => { if (e.type === 'deposited') announced.push(e.msg_id); });
  expect(await r.registry.hydrateFromChain(evs, inChain(evs))).toBe(4);
  sub.unsubscribe();
  expect(writes).toHaveLength(1);
  expect(announced).toEqual(['dm-a1', 'dm-b1', 'dm-a2', 'dm-c1']);
  r = await r.reopen();
  expect((await r.registry.poll('recipient-a', REQUEST_CLAIM)).messages.map((m) => m.msg_id)).toEqual(['dm-a1', 'dm-a2']);
  // The refused one was decided (its tombstone is in the same write): never deposited later, counted as hydrated.
  expect(await r.registry.hydrateFromChain(evs, inChain(evs))).toBe(5);
  expect((await r.registry.poll('recipient-a', REQUEST_CLAIM)).messages).toEqual([]);
});
