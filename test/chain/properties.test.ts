// Property tests for whole-chain validation (§2.7, strong form): random valid chains of message / gate /
// DM events from a few random identities validate, and any single mutation of a signed or hashed field
// makes validateChain report the mutated event as the first invalid one.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { validateChain } from '../../protocol/chain-validator.js';
import type { ChainEvent } from '../../protocol/event.js';
import { identityFromSeed, type Identity } from '../../protocol/identity.js';
import { signAppend } from '../../protocol/local-sign.js';
import { D, G, M, ScratchChain, T0, b64, cloneEvent, ctxAt } from './helpers.js';

const NOW = T0 + 1000;
const ctx = ctxAt(NOW); // freshness off

type Kind = 'message' | 'gate' | 'dm';
interface Op {
  kind: Kind;
  author: number;
  text: string;
  bytes: Uint8Array;
  epoch: number;
  replyTo: boolean;
  gap: number;
  quarter: number;
}

const opArb: fc.Arbitrary<Op> = fc.record({
  kind: fc.constantFrom<Kind>('message', 'gate', 'dm'),
  author: fc.nat({ max: 9 }),
  text: fc.string({ maxLength: 24 }),
  bytes: fc.uint8Array({ minLength: 8, maxLength: 40 }),
  epoch: fc.integer({ min: 0, max: 4 }),
  replyTo: fc.boolean(),
  gap: fc.integer({ min: 0, max: 2 }),
  quarter: fc.integer({ min: 0, max: 3 }),
});

const seedsArb = fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { minLength: 1, maxLength: 3 });

/** Build a valid chain through the real local-append rules. */
function buildChain(seeds: Uint8Array[], ops: Op[]): ChainEvent[] {
  const ids: Identity[] = seeds.map((s) => identityFromSeed(s));
  const chain = new ScratchChain(ctx);
  const next = new Map<string, number>();
  ops.forEach((op, i) => {
    const id = ids[op.author % ids.length];
    const type = op.kind === 'message' ? 'message' : op.kind === 'gate' ? 'gate_message' : 'dm_message';
    const key = `${id.nodeId}|${type}`;
    const seq = (next.get(key) ?? 0) + 1 + op.gap;
    next.set(key, seq);
    const ts = T0 + i + op.quarter / 4;
    let payload: Record<string, unknown>;
    if (op.kind === 'message') payload = M(op.text);
    else if (op.kind === 'gate') {
      payload = { ...G(op.epoch), ciphertext: 'mls1:' + b64(op.bytes), sender_ref: `ref-${op.text.length}` };
      if (op.replyTo) payload.reply_to = `parent-${i}`;
    } else {
      // A distinct mailbox per DM keeps the spool caps out of the way.
      payload = { ...D(`recipient-${i}`, `dm-${i}`, T0 + i), ciphertext: 'x3dh1:' + b64(op.bytes) };
    }
    chain.append(signAppend(id, type, payload, seq, ts));
  });
  return chain.events.map(cloneEvent);
}

const OTHER = identityFromSeed(createHash('sha256').update('infonet property-test mutation key').digest());
const flipHex = (h: string): string => (h[0] === 'a' ? 'b' : 'a') + h.slice(1);
const OTHER_TYPE: Record<string, string> = { message: 'gate_message', gate_message: 'dm_message', dm_message: 'message' };

type Field = 'payload' | 'node_id' | 'sequence' | 'signature' | 'timestamp' | 'event_type' | 'prev_hash' | 'event_id' | 'public_key';
const FIELDS: Field[] = ['payload', 'node_id', 'sequence', 'signature', 'timestamp', 'event_type', 'prev_hash', 'event_id', 'public_key'];

function mutate(ev: ChainEvent, field: Field, pick: number): void {
  switch (field) {
    case 'payload': {
      const keys = Object.keys(ev.payload).filter((k) => typeof ev.payload[k] === 'string').sort();
      const k = keys[pick % keys.length];
      ev.payload[k] = `${ev.payload[k] as string}x`;
      return;
    }
    case 'node_id': ev.node_id = pick % 2 ? OTHER.nodeId : `!sb_${'ab'.repeat(16)}`; return;
    case 'sequence': ev.sequence += [1, -1, 1000][pick % 3]; return;
    case 'signature': ev.signature = flipHex(ev.signature); return;
    case 'timestamp': ev.timestamp += [0.5, 1, -1][pick % 3]; return;
    case 'event_type': ev.event_type = pick % 2 ? OTHER_TYPE[ev.event_type] : 'vote'; return;
    case 'prev_hash': ev.prev_hash = flipHex(ev.prev_hash); return;
    case 'event_id': ev.event_id = flipHex(ev.event_id); return;
    case 'public_key': ev.public_key = OTHER.publicKey; return;
  }
}

describe('chain validation properties', () => {
  test('random valid chains (message / gate / DM, several authors) validate', () => {
    fc.assert(
      fc.property(seedsArb, fc.array(opArb, { minLength: 0, maxLength: 8 }), (seeds, ops) => {
        const events = buildChain(seeds, ops);
        const verdict = validateChain(events, ctx);
        expect(verdict.valid).toBe(true);
        if (verdict.valid) {
          expect(verdict.count).toBe(events.length);
          if (events.length) expect(verdict.head).toBe(events[events.length - 1].event_id);
        }
      }),
      { numRuns: 100 },
    );
  });

  test('incremental validation from any split point gives the same verdict', () => {
    fc.assert(
      fc.property(seedsArb, fc.array(opArb, { minLength: 1, maxLength: 8 }), fc.nat(), (seeds, ops, splitPick) => {
        const events = buildChain(seeds, ops);
        const split = splitPick % (events.length + 1);
        const first = validateChain(events.slice(0, split), ctx);
        expect(first.valid).toBe(true);
        const rest = validateChain(events, ctx, first.state, split);
        expect(rest.valid).toBe(true);
        if (rest.valid) expect(rest.head).toBe(events[events.length - 1].event_id);
      }),
      { numRuns: 50 },
    );
  });

  test('any single mutation of a signed or hashed field is reported at the mutated event', () => {
    fc.assert(
      fc.property(
        seedsArb,
        fc.array(opArb, { minLength: 1, maxLength: 8 }),
        fc.nat(),
        fc.constantFrom(...FIELDS),
        fc.nat(),
        (seeds, ops, indexPick, field, pick) => {
          const events = buildChain(seeds, ops);
          const i = indexPick % events.length;
          mutate(events[i], field, pick);
          const verdict = validateChain(events, ctx);
          expect(verdict.valid).toBe(false);
          if (!verdict.valid) expect(verdict.index).toBe(i);
        },
      ),
      { numRuns: 150 },
    );
  });
});
