// Appendix A.8 vectors and the §7.2 claim → key list rules.
import {
  claimKeys, epochOf, hydrationSenderTokenHash, requestMailboxKey, senderBlockRef, sharedMailboxKey, type MailboxBindings,
} from '../../protocol/mailbox-keys.js';
import { K1_NODE_ID, T0 } from './helpers.js';

test('A.8 hydration sender token hash', () => {
  expect(hydrationSenderTokenHash('ab'.repeat(32), K1_NODE_ID)).toBe('ca8f72a806afef886a69b0e2a815ca311c0b0aea9ce2a35de7d02cba6867c56f');
});

test('A.8 relay keys with pepper testpepper at 1700000000', () => {
  expect(epochOf(T0)).toBe(78703);
  expect(requestMailboxKey('testpepper', 'recipient-a', T0)).toBe('439044023dfa47ec587f63edb6a70a67f024609646d8d49ddbedd33f27799e93');
  expect(sharedMailboxKey('bob_mailbox_token_abc')).toBe('859e20671fc9fe242dd9942482fca399013da73e6dcf486699659dcb22e9ff9b');
  expect(senderBlockRef('testpepper', K1_NODE_ID, { recipientId: 'recipient-a', deliveryClass: 'request' }))
    .toBe('ref:c4c096e8ef198cc31b46d3ed604fd1bc336df8d9cf84feaafb4c98abd3811df3');
});

test('§7.2 claims: shared, requests with binding, invalid claims, dedup and the 32-claim bound', () => {
  const b: MailboxBindings = new Map();
  const first = claimKeys('testpepper', 'recipient-a', [{ type: 'requests', token: 'tok' }, { type: 'shared', token: 'bob_mailbox_token_abc' }, { type: 'shared' }, { type: 'bogus', token: 'x' }], T0, b);
  expect(first.invalid).toBe(2);
  expect(first.keys).toEqual([
    sharedMailboxKey('tok'),
    requestMailboxKey('testpepper', 'recipient-a', T0),
    requestMailboxKey('testpepper', 'recipient-a', T0, 78702),
    sharedMailboxKey('bob_mailbox_token_abc'),
  ]);
  const second = claimKeys('testpepper', 'recipient-a', [{ type: 'requests', token: 'tok2' }], T0, b);
  expect(second.keys[0]).toBe(sharedMailboxKey('tok'));
  expect(second.keys[1]).toBe(sharedMailboxKey('tok2'));
  const many = Array.from({ length: 40 }, (_, i) => ({ type: 'shared', token: `t${i}` }));
  expect(claimKeys('p', 'a', many, T0, new Map()).keys).toHaveLength(32);
});
