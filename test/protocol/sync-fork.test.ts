// §9.3 client loop item 2 [tightening]: behind ≠ forked; what a rebuild keeps (issue 8 item 6).
import { GENESIS_HASH } from '../../protocol/constants.js';
import {
  commonPrefixLength, peerChainWins, classifySyncAnswer, KEPT_ASIDE_MAX, mayRebuildFromPeer, mergeKeptAside, offerAction, planRebuild, signedIdentity,
  type KeptAsideEntry,
} from '../../protocol/sync-fork.js';

const local = new Set(['a1', 'a2', 'a3']);
const has = (id: string) => local.has(id);

describe('classifySyncAnswer', () => {
  test('an answer that is not forked is linked', () => {
    expect(classifySyncAnswer({ forked: false, head_hash: 'zz' }, has)).toBe('linked');
  });
  test('an empty peer (head GENESIS) saying forked is behind, not forked', () => {
    expect(classifySyncAnswer({ forked: true, head_hash: GENESIS_HASH }, has)).toBe('behind');
  });
  test('a peer whose head is in the local chain is behind', () => {
    expect(classifySyncAnswer({ forked: true, head_hash: 'a2' }, has)).toBe('behind');
  });
  test('an unknown head is a real fork; a missing or malformed head is treated as the original did (forked)', () => {
    expect(classifySyncAnswer({ forked: true, head_hash: 'b9' }, has)).toBe('forked');
    expect(classifySyncAnswer({ forked: true }, has)).toBe('forked');
    expect(classifySyncAnswer({ forked: true, head_hash: 7 }, has)).toBe('forked');
    expect(classifySyncAnswer({ forked: true, head_hash: '' }, has)).toBe('forked');
  });
  test('only short chains are rebuilt (the original threshold 20)', () => {
    expect(mayRebuildFromPeer(19)).toBe(true);
    expect(mayRebuildFromPeer(20)).toBe(false);
  });
});

test('commonPrefixLength: the fork point of two id lists', () => {
  expect(commonPrefixLength(['a', 'b', 'c'], ['a', 'b', 'x', 'y'])).toBe(2);
  expect(commonPrefixLength([], ['a'])).toBe(0);
  expect(commonPrefixLength(['a', 'b'], ['a', 'b', 'c'])).toBe(2);
  expect(commonPrefixLength(['z'], ['a'])).toBe(0);
});

describe('peerChainWins (exactly one side of a short fork rebuilds)', () => {
  test('a long, incomplete or longer peer chain wins; equal lengths go to the smaller head id', () => {
    expect(peerChainWins({ length: 20, head: 'z', complete: true }, { length: 3, head: 'a' })).toBe(true);
    expect(peerChainWins({ length: 2, head: 'z', complete: false }, { length: 3, head: 'a' })).toBe(true);
    expect(peerChainWins({ length: 4, head: 'z', complete: true }, { length: 3, head: 'a' })).toBe(true);
    expect(peerChainWins({ length: 2, head: 'a', complete: true }, { length: 3, head: 'z' })).toBe(false);
    expect(peerChainWins({ length: 3, head: 'a', complete: true }, { length: 3, head: 'b' })).toBe(true);
    expect(peerChainWins({ length: 3, head: 'b', complete: true }, { length: 3, head: 'a' })).toBe(false);
  });
  test('the rule is antisymmetric: of two short chains exactly one side wins', () => {
    const x = { length: 5, head: 'h1' };
    const y = { length: 5, head: 'h2' };
    expect(peerChainWins({ ...x, complete: true }, y)).not.toBe(peerChainWins({ ...y, complete: true }, x));
  });
});

const ev = (event_id: string, node_id: string, signature = `sig-${event_id}`, prev_hash = 'p') =>
  ({ event_id, node_id, signature, event_type: 'message', prev_hash });

describe('planRebuild', () => {
  test('own events are re-appended in order, other authors kept aside, events the peer has counted', () => {
    const tail = [ev('l1', 'me'), ev('l2', 'other'), ev('l3', 'me'), ev('l4', 'other'), ev('l5', 'me', 'sig-relinked')];
    const peer = [ev('p1', 'x'), ev('l4', 'other'), ev('p9', 'me', 'sig-relinked')];
    const plan = planRebuild(tail, peer, new Set(['me']));
    expect(plan.reappend.map((e) => e.event_id)).toEqual(['l1', 'l3']);
    expect(plan.keepAside.map((e) => e.event_id)).toEqual(['l2']);
    // l4 by id; l5 by its signature (the peer holds the same signed event re-linked).
    expect(plan.alreadyThere).toBe(2);
  });
});

describe('kept-aside set', () => {
  const entry = (id: string, own = false): KeptAsideEntry<ReturnType<typeof ev>> => ({ event: ev(id, own ? 'me' : 'o'), own, kept_at: 1, peer: 'p' });

  test('merge skips entries already kept and is bounded, reporting what the bound pushed out', () => {
    const a = mergeKeptAside([entry('e1')], [entry('e1'), entry('e2')]);
    expect(a).toEqual({ entries: [entry('e1'), entry('e2')], overflow: 0, added: 1, dropped: [] });
    const many = Array.from({ length: KEPT_ASIDE_MAX + 3 }, (_, i) => entry(`m${i}`));
    const b = mergeKeptAside([], many);
    expect(b.entries).toHaveLength(KEPT_ASIDE_MAX);
    expect(b.overflow).toBe(3);
    expect(b.dropped.map((k) => k.event.event_id)).toEqual(['m0', 'm1', 'm2']);
    expect(b.entries[0].event.event_id).toBe('m3');
  });

  test('offer: present when the chain holds it (by id or signature), own → re-append, others ingest only when they fit', () => {
    const chain = (head: string, ids: string[] = [], signed: string[] = []) =>
      ({ head, hasId: (i: string) => ids.includes(i), hasSigned: (s: string) => signed.includes(s) });
    expect(offerAction(entry('e1'), chain('h', ['e1']))).toBe('present');
    expect(offerAction(entry('e1', true), chain('h', [], [signedIdentity(ev('e1', 'me'))]))).toBe('present');
    expect(offerAction(entry('e1', true), chain('h'))).toBe('reappend');
    expect(offerAction(entry('e1'), chain('p'))).toBe('ingest');
    expect(offerAction(entry('e1'), chain('h'))).toBe('wait');
  });
});
