// Mailbox counts of node status (issue 13, actors/mailbox-stats.ts): kept incrementally per class and state, the
// oldest pending age, deposits/polls/claims — and after a restart the stored mailboxes are counted back to the same.
import { openRelay, removeDir, sealedLike, shared, T0, type Relay } from '../mailbox/helpers.js';

let r: Relay;
afterEach(async () => { await r.close().catch(() => undefined); removeDir(r.dir); });

const depositShared = (token: string, id: string) =>
  r.registry.deposit({ sender_id: 's', recipient_token: token, delivery_class: 'shared', ciphertext: sealedLike(), msg_id: id });
const depositRequest = (recipient: string, id: string) =>
  r.registry.deposit({ sender_id: 's', sender_token_hash: 'st', recipient_id: recipient, delivery_class: 'request', ciphertext: sealedLike(), msg_id: id });

test('counts per class and state follow deposits, polls and claims; the oldest pending age follows the clock', async () => {
  r = await openRelay();
  await r.registry.stats.whenCounted();
  expect(r.registry.stats.snapshot(r.clock())).toMatchObject({ counted: true, claimed: 0, oldest_pending_age_s: null, polls: 0, claims: 0 });
  await depositShared('tok-a', 'a1');
  r.clock.advance(10);
  await depositShared('tok-a', 'a2');
  await depositShared('tok-b', 'b1');
  await depositRequest('!sb_00000000000000000000000000000001', 'q1');
  r.clock.advance(5);
  let s = r.registry.stats.snapshot(r.clock());
  expect(s.pending).toEqual({ request: 1, shared: 3, self: 0, other: 0 });
  expect(s.with_pending).toEqual({ request: 1, shared: 2, self: 0, other: 0 });
  expect(s.oldest_pending_age_s).toBe(15);
  expect(s.deposits.local).toBe(4);

  // The oldest message goes: the age is that of the next oldest (deposited 10 s later).
  const polled = await r.registry.poll('x', shared('tok-a'), 1);
  expect(polled.messages.map((m) => m.msg_id)).toEqual(['a1']);
  s = r.registry.stats.snapshot(r.clock());
  expect(s.pending.shared).toBe(2);
  expect(s.claimed).toBe(1);
  expect(s.oldest_pending_age_s).toBe(5);
  expect(s).toMatchObject({ polls: 1, claims: 1 });
  await r.registry.claim('x', shared('tok-a'), ['a2']);
  s = r.registry.stats.snapshot(r.clock());
  expect(s.with_pending.shared).toBe(1);
  expect(s).toMatchObject({ polls: 1, claims: 2, claimed: 2 });
});

test('after a restart the stored mailboxes are counted back; expiry removes pending and tombstones', async () => {
  r = await openRelay();
  await depositShared('tok-a', 'a1');
  await depositShared('tok-a', 'a2');
  await depositShared('tok-b', 'b1');
  await r.registry.poll('x', shared('tok-b'));
  const before = r.registry.stats.snapshot(r.clock());
  r = await r.reopen();
  await r.registry.stats.whenCounted();
  const after = r.registry.stats.snapshot(r.clock());
  expect({ pending: after.pending, with_pending: after.with_pending, claimed: after.claimed, age: after.oldest_pending_age_s })
    .toEqual({ pending: before.pending, with_pending: before.with_pending, claimed: before.claimed, age: before.oldest_pending_age_s });
  expect(after.pending.shared).toBe(2);
  expect(after.claimed).toBe(1);

  r.clock.advance(3600);
  await r.registry.sweepExpired();
  const swept = r.registry.stats.snapshot(r.clock());
  expect(swept.pending.shared).toBe(0);
  expect(swept.claimed).toBe(0);
  expect(swept.oldest_pending_age_s).toBeNull();
  expect(r.clock()).toBe(T0 + 3600);
});
