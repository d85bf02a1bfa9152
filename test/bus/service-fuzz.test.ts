// Hostile input on every command subject: 10k+ random, structurally-random and mutated/truncated bodies, sent
// concurrently. The node answers each with a well-formed envelope (a typed error, or a harmless read), never an
// internal error, never crashes, and its chain and mailboxes are exactly as before.
import fc from 'fast-check';
import { InfonetClient } from '../../bus/client.js';
import { decodeReply, encode } from '../../bus/codec.js';
import { COMMANDS, splitCommand, type CommandName } from '../../bus/commands.js';
import { cmdSubject } from '../../bus/subjects.js';
import { generateIdentity } from '../../protocol/identity.js';
import { signAppend } from '../../protocol/local-sign.js';
import { signMailboxRequest } from '../../protocol/mailbox-access.js';
import { signBlockRequest } from '../../protocol/block-list.js';
import type { InfonetNode } from '../../node/infonet-node.js';
import { messagePayload, removeTempDirs, startNode } from '../node/helpers.js';

const TOTAL = Number(process.env.FUZZ_BODIES ?? 11_000);
const BATCH = 400;

let node: InfonetNode;
let client: InfonetClient;
const author = generateIdentity();
const reader = generateIdentity(); // signs the before/after mailbox reads (issue 8: signed mailbox access)
const CLAIMS = [{ type: 'shared', token: 'fuzz-secret-token' }];

beforeAll(async () => {
  node = await startNode();
  client = await InfonetClient.connect(node.natsUrl, node.nodeId, { timeoutMs: 20_000 });
  for (let i = 1; i <= 3; i++) await client.append(signAppend(author, 'message', messagePayload(i), i, Date.now() / 1000));
  for (const id of ['m1', 'm2']) {
    await client.dmDeposit({ sender_id: `s-${id}`, ciphertext: 'c2VhbGVkIGJ5dGVz', delivery_class: 'shared', recipient_token: CLAIMS[0].token, msg_id: id });
  }
});

afterAll(async () => {
  await client?.close();
  await node?.stop();
  removeTempDirs();
});

/** Valid-looking bodies that the node must still refuse (or that only read). Any mutation keeps them harmless. */
function templates(existing: unknown[]): Record<CommandName, Record<string, unknown>> {
  const replayed = signAppend(author, 'message', messagePayload(99), 1, Date.now() / 1000); // sequence 1 is taken
  return {
    'node.status': {},
    'chain.status': {},
    'chain.append': replayed as unknown as Record<string, unknown>,
    // a public event on the private paths: refused by type (mutations keep it refused: the signature breaks)
    'chain.append_gate': replayed as unknown as Record<string, unknown>,
    'chain.append_dm': replayed as unknown as Record<string, unknown>,
    'chain.ingest': { events: existing, max_age_s: 0 },
    'chain.export': { from: 0, limit: 2 },
    'chain.next_sequence': { node_id: author.nodeId, event_type: 'message' },
    'dm.deposit': { sender_id: 'x', ciphertext: 'c2VhbGVk', delivery_class: 'request', recipient_id: 'bob' }, // no sender_token_hash
    // Signed mailbox requests (mutations break the signature; the intact ones open a mailbox nobody uses).
    'dm.count': signed('count'),
    'dm.poll': signed('poll', { limit: 8 }),
    'dm.claim': signed('claim', { msg_ids: ['m1', 'm2'] }),
    'dm.pending_ids': signed('pending_ids'),
    'dm.block': signBlockRequest(author, { action: 'block', sender_id: 's-m1', timestamp: Date.now() / 1000, nonce: 'fuzz' }) as unknown as Record<string, unknown>,
  };
}

function signed(kind: 'count' | 'poll' | 'claim' | 'pending_ids', extra: { limit?: number; msg_ids?: string[] } = {}): Record<string, unknown> {
  const claims = [{ type: 'shared', token: 'not-the-token' }];
  return signMailboxRequest(author, kind, { claims, timestamp: Date.now() / 1000, nonce: `fuzz-${kind}`, ...extra }) as unknown as Record<string, unknown>;
}

const safeEncode = (v: unknown): Uint8Array | null => {
  try {
    return encode(v);
  } catch {
    return null;
  }
};

function bodies(tpl: Record<CommandName, Record<string, unknown>>, n: number): Array<{ cmd: CommandName; data: Uint8Array }> {
  const cmdArb = fc.constantFrom(...COMMANDS);
  const mutated = cmdArb.chain((cmd) => {
    const base = tpl[cmd];
    const keys = Object.keys(base);
    const mutation = keys.length
      ? fc.tuple(fc.constantFrom(...keys), fc.oneof(fc.anything(), fc.constant(undefined), fc.string(), fc.integer(), fc.double()))
      : fc.tuple(fc.string(), fc.anything());
    return mutation.map(([k, v]) => {
      const copy: Record<string, unknown> = { ...base };
      if (v === undefined) delete copy[k];
      else copy[k] = v;
      return { cmd, data: safeEncode(copy) ?? new Uint8Array([0xc1]) };
    });
  });
  const truncated = cmdArb.chain((cmd) => {
    const full = encode(tpl[cmd]);
    return fc.nat({ max: Math.max(0, full.length - 1) }).map((cut) => ({ cmd, data: full.slice(0, cut) }));
  });
  const raw = fc.tuple(cmdArb, fc.uint8Array({ maxLength: 300 })).map(([cmd, data]) => ({ cmd, data }));
  const structured = fc.tuple(cmdArb, fc.anything({ maxDepth: 4, withNullPrototype: true, withBigInt: true, withTypedArray: true }))
    .map(([cmd, v]) => ({ cmd, data: safeEncode(v) ?? new Uint8Array([0x92]) }));
  const deep = fc.tuple(cmdArb, fc.integer({ min: 60, max: 200 })).map(([cmd, depth]) => {
    // nesting deeper than the decoder accepts: [[[[…]]]]
    return { cmd, data: Uint8Array.from([...Array(depth).fill(0x91), 0xc0]) };
  });
  return fc.sample(fc.oneof(
    { arbitrary: mutated, weight: 4 }, { arbitrary: truncated, weight: 2 }, { arbitrary: raw, weight: 2 },
    { arbitrary: structured, weight: 3 }, { arbitrary: deep, weight: 1 },
  ), { numRuns: n, seed: 4242 });
}

test(`${TOTAL} hostile bodies across every command subject: typed errors only, state unchanged`, async () => {
  const existing = (await client.exportAll()).slice(0, 2);
  const before = { chain: await client.chainStatus(), count: await client.dmCount(reader, CLAIMS), ids: await client.dmPendingIds(reader, CLAIMS), stored: (await client.status()).mailboxes.stored };
  const all = bodies(templates(existing), TOTAL);
  const perCommand = new Map<string, number>();
  const codes = new Map<string, number>();
  const internal: string[] = [];
  for (let i = 0; i < all.length; i += BATCH) {
    await Promise.all(all.slice(i, i + BATCH).map(async ({ cmd, data }) => {
      perCommand.set(cmd, (perCommand.get(cmd) ?? 0) + 1);
      const [area, verb] = splitCommand(cmd);
      const m = await client.nc.request(cmdSubject(node.nodeId, area, verb), data, { timeout: 20_000 });
      const env = decodeReply(m.data);
      expect(env.ok).toBe(true); // always a well-formed envelope
      if (env.ok && !env.value.ok) {
        codes.set(env.value.error.code, (codes.get(env.value.error.code) ?? 0) + 1);
        if (env.value.error.code === 'internal') internal.push(`${cmd}: ${env.value.error.reason}`);
      } else codes.set('ok', (codes.get('ok') ?? 0) + 1);
    }));
  }
  expect(internal).toEqual([]);
  for (const c of COMMANDS) expect(perCommand.get(c) ?? 0).toBeGreaterThan(TOTAL / COMMANDS.length / 3);
  expect([...codes.values()].reduce((a, b) => a + b, 0)).toBe(TOTAL);
  // still alive, nothing changed
  expect(await client.chainStatus()).toEqual(before.chain);
  expect(await client.dmCount(reader, CLAIMS)).toEqual(before.count);
  expect(await client.dmPendingIds(reader, CLAIMS)).toEqual(before.ids);
  expect((await client.status()).mailboxes.stored).toBe(before.stored);
  expect(node.chain.length).toBe(3);
}, Math.max(120_000, TOTAL * 5)); // the long run of issue 8: FUZZ_BODIES=1000000 npx jest test/bus/service-fuzz.test.ts
