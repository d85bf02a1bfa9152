// Streaming chain files (issue 14): `chain validate|ingest` read the file element by element and
// `chain export` writes it page by page, with the same verdicts, indexes and bytes as the whole-file
// forms, the received literal forms (5.0, true) kept for event ids (Appendix D), and bad files refused
// with one line.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { batchElements, streamChainFile } from '../../cli/chain-stream.js';
import { chainCommand } from '../../cli/chain.js';
import { GENESIS_HASH, NETWORK_ID, PROTOCOL_VERSION } from '../../protocol/constants.js';
import { chainToWireJson, type ChainEvent, type Payload } from '../../protocol/event.js';
import { parseEventsJson } from '../../protocol/lossless-json.js';
import { signAppend } from '../../protocol/local-sign.js';
import { normalizePublicPayload } from '../../protocol/public-payload.js';
import { pythonFloatRepr } from '../../protocol/python-float.js';
import { signaturePayload } from '../../protocol/signature-payload.js';
import { signEd25519 } from '../../protocol/signatures.js';
import { ctxAt, K1, M, newIdentity, NodePool, ScratchChain, T0 } from './helpers.js';

const pool = new NodePool();
afterAll(() => pool.cleanup());
const dir = pool.tempDir('infonet-cli-stream-');

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const so = jest.spyOn(process.stdout, 'write').mockImplementation((s) => { out.push(String(s)); return true; });
  const se = jest.spyOn(process.stderr, 'write').mockImplementation((s) => { err.push(String(s)); return true; });
  try {
    const code = await chainCommand(args);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    so.mockRestore();
    se.mockRestore();
  }
}

async function collect(file: string): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const el of streamChainFile(file)) out.push(el.value);
  return out;
}

/** One wire event whose payload is literal JSON text (as a chain written by the original holds it). */
function wireEvent(type: string, payloadText: string, seq: number, prev: string): { text: string; id: string } {
  const payload = JSON.parse(payloadText) as Payload;
  const signature = signEd25519(K1.privateKey, signaturePayload(type, K1.nodeId, seq, normalizePublicPayload(type, payload)));
  const ts = pythonFloatRepr(T0);
  const id = createHash('sha256').update(`${prev}:${type}:${K1.nodeId}:${payloadText}:${ts}:${seq}:${NETWORK_ID}`).digest('hex');
  const fields: Record<string, string> = {
    event_id: JSON.stringify(id), event_type: JSON.stringify(type), network_id: JSON.stringify(NETWORK_ID), node_id: JSON.stringify(K1.nodeId),
    payload: payloadText, prev_hash: JSON.stringify(prev), protocol_version: JSON.stringify(PROTOCOL_VERSION), public_key: JSON.stringify(K1.publicKey),
    public_key_algo: JSON.stringify(K1.publicKeyAlgo), sequence: String(seq), signature: JSON.stringify(signature), timestamp: ts,
  };
  return { text: '{' + Object.keys(fields).sort().map((k) => `"${k}":${fields[k]}`).join(',') + '}', id };
}

/** A valid chain of `n` public messages from a few authors, built through the real append rules. */
function bigChain(n: number): ChainEvent[] {
  const authors = [K1, newIdentity(), newIdentity()];
  const seqs = authors.map(() => 0);
  const scratch = new ScratchChain(ctxAt(T0 + n));
  for (let i = 0; i < n; i++) {
    const a = i % authors.length;
    scratch.append(signAppend(authors[a], 'message', M(`m${i} \u00e9 "q" \\ ${'x'.repeat(i % 300)}`), ++seqs[a], T0 + i / 10));
  }
  return scratch.events;
}

test('the streamed elements are exactly what parseEventsJson gives for the whole file, across chunk boundaries', async () => {
  let seed = 7;
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  const atoms = ['0', '-1', '5.0', '2.50', '1e3', '-0.0', '"a\\"b"', '"5.0"', 'true', 'false', 'null', '12345678901234567', '"\\u00e9\u{1F600}"', '"\\ud800"', '"x'.padEnd(400, 'y') + '"'];
  const gen = (depth: number): string => {
    const k = rnd(depth > 2 ? 1 : 4);
    if (k === 0) return atoms[rnd(atoms.length)];
    if (k === 1) return '[' + Array.from({ length: rnd(4) }, () => gen(depth + 1)).join(' , ') + ']';
    if (k === 2) return '{' + Array.from({ length: rnd(4) }, (_, i) => `"k${i}" : ${gen(depth + 1)}`).join(',') + '}';
    return `{"event_type":"stake","payload":${gen(depth + 1).startsWith('{') ? gen(depth + 1) : '{"amount":5.0}'},"timestamp":1.0}`;
  };
  const elements = Array.from({ length: 8000 }, () => gen(0));
  const text = '[\n ' + elements.join(',\n ') + '\n]\n';
  expect(text.length).toBeGreaterThan(3 * 64 * 1024); // several read chunks
  const file = join(dir, 'random.json');
  writeFileSync(file, text);
  expect(await collect(file)).toEqual(parseEventsJson(text));
  // batches keep order and bounds
  const batches: number[] = [];
  for await (const b of batchElements(streamChainFile(file), 700, 20_000)) batches.push(b.length);
  expect(batches.reduce((a, b) => a + b, 0)).toBe(8000);
  expect(Math.max(...batches)).toBeLessThanOrEqual(700);
});

test('bad chain files are refused with one line and exit 2', async () => {
  const cases: Array<[string, RegExp]> = [
    ['{"a":1}', /must contain a JSON array of events/],
    ['[{"a":1},', /not valid JSON/],
    ['[{"a":1}] []', /not valid JSON/],
    ['[{"a":tru}]', /not valid JSON/],
    ['', /not valid JSON/],
  ];
  for (const [text, why] of cases) {
    const file = join(dir, 'bad.json');
    writeFileSync(file, text);
    const r = await cli('validate', file);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(why);
  }
  const missing = await cli('validate', join(dir, 'nope.json'));
  expect(missing.code).toBe(2);
  expect(missing.stderr).toMatch(/cannot read .*ENOENT/);
});

test('T79 literals survive validate → ingest → export byte for byte through the streaming CLI', async () => {
  const e1 = wireEvent('stake', '{"amount":5.0,"duration_days":7,"message_id":"m1","poster_id":"p1","side":"yes"}', 1, GENESIS_HASH);
  const e2 = wireEvent('vote', '{"gate":"ops-gate","target_id":"m1","vote":true}', 2, e1.id);
  const fileText = `[\n${e1.text},\n${e2.text}\n]`;
  const file = join(dir, 'literals.json');
  writeFileSync(file, fileText);

  const v = await cli('validate', file, '--now', String(T0));
  expect(v).toMatchObject({ code: 0, stdout: `valid: 2 events, head ${e2.id}\n`, stderr: '' });
  const data = join(dir, 'literals-data');
  const ing = await cli('ingest', '--data', data, file, '--max-age-s', '0');
  expect(ing.code).toBe(0);
  expect(JSON.parse(ing.stdout)).toEqual({ accepted: 2, duplicates: 0, rejected: [] });
  const out = join(dir, 'literals-out.json');
  expect((await cli('export', '--data', data, '--out', out)).code).toBe(0);
  expect(readFileSync(out, 'utf8')).toBe(fileText + '\n');
  const toStdout = await cli('export', '--data', data);
  expect(toStdout.stdout).toBe(fileText + '\n');
});

describe('a chain longer than one batch', () => {
  const N = 5_000;
  const events = bigChain(N);
  const text = chainToWireJson(events);

  test('validate gives the count and head, the index of a bad event past the first batches, and resumes from --state', async () => {
    const file = join(dir, 'big.json');
    writeFileSync(file, text);
    const now = String(T0 + N);
    const ok = await cli('validate', file, '--now', now);
    expect(ok.stdout).toBe(`valid: ${N} events, head ${events[N - 1].event_id}\n`);

    const tampered = events.map((e) => ({ ...e }));
    tampered[4321] = { ...tampered[4321], payload: M('changed') as Payload };
    const badFile = join(dir, 'big-bad.json');
    writeFileSync(badFile, chainToWireJson(tampered));
    const bad = await cli('validate', badFile, '--now', now);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^invalid at index 4321: /);

    // Incremental: a checkpoint of the first 3,000, then the whole file resumes from it.
    const prefix = join(dir, 'prefix.json');
    writeFileSync(prefix, chainToWireJson(events.slice(0, 3000)));
    const state = join(dir, 'state.bin');
    expect((await cli('validate', prefix, '--now', now, '--state', state)).code).toBe(0);
    const resumed = await cli('validate', file, '--now', now, '--state', state);
    expect(resumed.stdout).toBe(`valid: ${N} events, head ${events[N - 1].event_id} (incremental from index 3000)\n`);
    // A checkpoint whose head is not at its index in this file: validated from the start instead.
    const other = join(dir, 'other.json');
    writeFileSync(other, chainToWireJson(events.slice(0, 2000)));
    const fresh = await cli('validate', other, '--now', now, '--state', state);
    expect(fresh.stdout).toBe(`valid: 2000 events, head ${events[1999].event_id}\n`);
  }, 120_000);

  test('ingest accepts every event across batches, reports rejected indexes in file order, and export gives the file back', async () => {
    const bad = events.map((e) => ({ ...e }));
    bad[4500] = { ...bad[4500], signature: bad[4500].signature.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) };
    const file = join(dir, 'big-ingest.json');
    writeFileSync(file, chainToWireJson(bad));
    const data = join(dir, 'big-data');
    const r = await cli('ingest', '--data', data, file, '--max-age-s', '0');
    expect(r.code).toBe(0);
    const outcome = JSON.parse(r.stdout) as { accepted: number; duplicates: number; rejected: Array<{ index: number; reason: string }> };
    expect(outcome.accepted).toBe(4500);
    expect(outcome.rejected[0].index).toBe(4500);
    expect(outcome.rejected).toHaveLength(N - 4500); // the rest no longer links

    const again = await cli('ingest', '--data', data, file, '--max-age-s', '0');
    expect(JSON.parse(again.stdout)).toMatchObject({ accepted: 0, duplicates: 4500 });

    const full = join(dir, 'big.json');
    const data2 = join(dir, 'big-data-2');
    expect(JSON.parse((await cli('ingest', '--data', data2, full, '--max-age-s', '0')).stdout)).toMatchObject({ accepted: N, rejected: [] });
    const out = join(dir, 'big-out.json');
    expect((await cli('export', '--data', data2, '--out', out)).code).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(text + '\n');
  }, 180_000);
});
