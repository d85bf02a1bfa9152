// The crypto worker pool (piscina + actors/crypto-worker.ts): batch verdicts match inline
// verification, including gate variants, public events signed over their normalised payload, bad
// signatures and malformed events; batched signing matches node:crypto signatures.
import { CryptoPool, POOL_MIN_BATCH } from '../../actors/crypto-pool.js';
import { GENESIS_HASH } from '../../protocol/constants.js';
import { signaturePayload } from '../../protocol/signature-payload.js';
import { signEd25519 } from '../../protocol/signatures.js';
import { verifyEventSignature } from '../../protocol/validate-event.js';
import { G, K1, M, newIdentity, rawEvent, T0 } from './helpers.js';

let pool: CryptoPool;
beforeAll(() => { pool = new CryptoPool(2); });
afterAll(async () => { await pool.close(); });

test('batch verdicts equal inline verification for good, bad and malformed events', async () => {
  const author = newIdentity();
  const events: unknown[] = [];
  for (let i = 0; i < 40; i++) {
    const kind = i % 4;
    if (kind === 0) events.push(rawEvent({ id: author, type: 'message', payload: M(`m${i}`), sequence: i + 1, prevHash: GENESIS_HASH, timestamp: T0 }));
    // A vote stored as `true`, signed over its normalised form (Appendix D): valid.
    if (kind === 1) events.push(rawEvent({ id: author, type: 'vote', payload: { target_id: 't', vote: true, gate: 'g' }, signed: { target_id: 't', vote: 1, gate: 'g' }, sequence: i + 1, prevHash: GENESIS_HASH, timestamp: T0 }));
    if (kind === 2) {
      const ev = rawEvent({ id: K1, type: 'message', payload: M(`m${i}`), sequence: i + 1, prevHash: GENESIS_HASH, timestamp: T0 });
      events.push({ ...ev, signature: signEd25519(author.privateKey, 'something else') });
    }
    if (kind === 3) events.push(i % 8 === 3 ? { event_type: 'message', payload: 'nope' } : rawEvent({ id: author, type: 'gate_message', payload: G(1), sequence: i + 1, prevHash: GENESIS_HASH, timestamp: T0 }));
  }
  expect(events.length).toBeGreaterThanOrEqual(POOL_MIN_BATCH);
  const verdicts = await pool.verifyEvents(events);
  for (const ev of events) {
    const inline = (ev as { signature?: unknown }).signature === undefined ? undefined : verifyEventSignature(ev as never);
    expect(verdicts.get(ev as object)).toBe(inline);
  }
  expect(events.filter((e) => verdicts.get(e as object) === true).length).toBe(25);
});

test('signing on the workers gives the same signatures as node:crypto', async () => {
  const msgs = Array.from({ length: 50 }, (_, i) => signaturePayload('message', K1.nodeId, i + 1, M(`x${i}`)));
  const sigs = await Promise.all(msgs.map((m) => pool.sign(K1.seed, m)));
  expect(sigs).toEqual(msgs.map((m) => signEd25519(K1.privateKey, m)));
});
