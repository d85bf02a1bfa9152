// The crypto worker pool (worker_threads + actors/crypto-worker.mjs): batch verdicts match inline
// verification, including gate variants, public events signed over their normalised payload, bad
// signatures and malformed events; batched signing matches node:crypto signatures; local appends signed
// on the pool are accepted by another node's ingest.
import { createHash } from 'node:crypto';
import { CryptoPool, POOL_MIN_BATCH } from '../../actors/crypto-pool.js';
import { GENESIS_HASH } from '../../protocol/constants.js';
import { signaturePayload } from '../../protocol/signature-payload.js';
import { signAppend } from '../../protocol/local-sign.js';
import { signEd25519 } from '../../protocol/signatures.js';
import { verifyEventSignature } from '../../protocol/validate-event.js';
import { D, G, K1, M, newIdentity, NodePool, rawEvent, T0 } from './helpers.js';

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

test('local appends under load (signed on the pool, payload normalised once) are events another node ingests', async () => {
  const nodes = new NodePool();
  try {
    const a = await nodes.fresh(T0);
    const envelope = 'gate-envelope-text';
    const envelopeHash = createHash('sha256').update(envelope, 'ascii').digest('hex');
    const payloads: Array<[string, Record<string, unknown>]> = [];
    for (let i = 0; i < 48; i++) {
      if (i % 4 === 0) payloads.push(['message', M(`load ${i}`)]);
      // Stored and signed as vote 1 (Appendix D normalisation).
      if (i % 4 === 1) payloads.push(['vote', { target_id: `t${i}`, vote: true, gate: 'g' }]);
      // The envelope is stored but not signed (§4.4): the signed text differs from the stored payload.
      if (i % 4 === 2) payloads.push(['gate_message', { ...G(1), gate_envelope: envelope, envelope_hash: envelopeHash }]);
      if (i % 4 === 3) payloads.push(['dm_message', D(`!sb_recipient${i}`, `msg-${i}`, T0)]);
    }
    // All issued in one tick: the queue is past POOL_MIN_BATCH, so most signatures come from the workers.
    const appended = await Promise.all(payloads.map(([type, p]) => a.chain.appendLocal(K1, type, p)));
    expect(appended.map((e) => e.event_type)).toEqual(payloads.map(([type]) => type));
    expect(appended.filter((e) => e.event_type === 'vote').every((e) => e.payload.vote === 1)).toBe(true);
    expect(appended.filter((e) => e.event_type === 'gate_message').every((e) => e.payload.gate_envelope === envelope)).toBe(true);
    const b = await nodes.fresh(T0);
    const r = await b.chain.ingest(await a.chain.readRange(0, payloads.length), 0);
    expect(r.rejected).toEqual([]);
    expect(r.accepted).toBe(payloads.length);
    expect(b.chain.head).toBe(a.chain.head);
  } finally {
    await nodes.cleanup();
  }
});

test('appended notices follow chain order when pooled local appends and external appends share group commits', async () => {
  const nodes = new NodePool();
  try {
    const a = await nodes.fresh(T0);
    const other = newIdentity();
    const seen: string[] = [];
    const sub = a.chain.events$.subscribe((n) => { if (n.kind === 'appended') seen.push(n.event.event_id); });
    const calls: Array<Promise<unknown>> = [];
    for (let i = 0; i < 60; i++) {
      // Every fifth an externally signed append (generic step) between pooled local appends.
      if (i % 5 === 4) calls.push(a.chain.appendPublic(signAppend(other, 'message', M(`ext ${i}`), i + 1, T0)));
      else calls.push(a.chain.appendLocal(K1, 'message', M(`local ${i}`)));
    }
    await Promise.all(calls);
    sub.unsubscribe();
    const stored = await a.chain.readRange(0, 60);
    expect(seen).toEqual(stored.map((e) => e.event_id));
  } finally {
    await nodes.cleanup();
  }
});

test('a closed pool refuses work instead of hanging', async () => {
  const p = new CryptoPool(1);
  await expect(p.sign(K1.seed, 'x')).resolves.toBe(signEd25519(K1.privateKey, 'x'));
  await p.close();
  await expect(p.sign(K1.seed, 'y')).rejects.toThrow(/closed/);
});
