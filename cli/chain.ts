// `infonet keygen` and `infonet chain validate|ingest|export|append` (forms kept exact: external
// conformance checks call them).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { pack, unpack } from 'msgpackr';
import { openChainAt } from '../actors/open-chain.js';
import { deserializeChainState, serializeChainState, type SerializedChainState } from '../protocol/chain-state.js';
import { validateChain } from '../protocol/chain-validator.js';
import { InfonetClient } from '../bus/client.js';
import { ErrorCodes, isInfonetError } from '../protocol/errors.js';
import { chainToWireJson, eventToWireJson, type ChainEvent } from '../protocol/event.js';
import { generateIdentity, identityFromKeyFile, identityToKeyFile } from '../protocol/identity.js';
import { loadSettings } from '../protocol/settings.js';
import { isPlainObject } from '../protocol/signed-context.js';
import { parse, printJson, readJsonFile, reportError, UsageError, writeOutput } from './args.js';

const CHAIN_USAGE = `usage:
  infonet chain validate FILE [--max-age-s N] [--now UNIX_S] [--state CHECKPOINT]
  infonet chain ingest --data DIR FILE [--max-age-s N]
  infonet chain export --data DIR [--out FILE]
  infonet chain append --data DIR --key KEYFILE --type TYPE --payload JSON [--sequence N]
  (ingest, export and append take --nats URL --node ID instead of --data DIR to act on a running node)`;

function intOption(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${name} must be a non-negative number`);
  return n;
}

export async function keygenCommand(args: string[]): Promise<number> {
  try {
    const { values } = parse(args, { out: { type: 'string' } }, false);
    const text = JSON.stringify(identityToKeyFile(generateIdentity()), null, 2);
    writeOutput(text, values.out);
    if (values.out) process.stderr.write(`key written to ${values.out} (mode 600)\n`);
    return 0;
  } catch (e) {
    return reportError(e);
  }
}

function readChainFile(file: string): unknown[] {
  const data = readJsonFile(file);
  if (!Array.isArray(data)) throw new UsageError(`${file} must contain a JSON array of events`);
  return data;
}

interface Checkpoint {
  version: 1;
  count: number;
  head: string;
  state: SerializedChainState;
}

async function validateCmd(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { 'max-age-s': { type: 'string' }, now: { type: 'string' }, state: { type: 'string' } });
  if (positionals.length !== 1) throw new UsageError('chain validate takes exactly one FILE');
  const events = readChainFile(positionals[0]);
  const settings = loadSettings();
  const now = intOption(values.now, 'now');
  const ctx = { settings: settings.chain, clock: () => now ?? Date.now() / 1000, maxAgeS: intOption(values['max-age-s'], 'max-age-s') ?? 0 };
  // Incremental variant: resume from a checkpoint when the file still starts with the checked prefix.
  let checkpoint: Checkpoint | null = null;
  if (values.state && existsSync(values.state)) {
    try {
      checkpoint = unpack(readFileSync(values.state)) as Checkpoint;
    } catch {
      checkpoint = null;
    }
  }
  const resumable = checkpoint !== null && checkpoint.version === 1 && checkpoint.count <= events.length && checkpoint.count > 0
    && isPlainObject(events[checkpoint.count - 1]) && (events[checkpoint.count - 1] as { event_id?: unknown }).event_id === checkpoint.head;
  const verdict = resumable
    ? validateChain(events, ctx, deserializeChainState(checkpoint!.state), checkpoint!.count)
    : validateChain(events, ctx);
  if (!verdict.valid) {
    process.stdout.write(`invalid at index ${verdict.index}: ${verdict.rejection.reason}\n`);
    return 1;
  }
  if (values.state) {
    const cp: Checkpoint = { version: 1, count: verdict.count, head: verdict.head, state: serializeChainState(verdict.state) };
    writeFileSync(values.state, pack(cp));
  }
  process.stdout.write(`valid: ${verdict.count} events, head ${verdict.head}${resumable ? ` (incremental from index ${checkpoint!.count})` : ''}\n`);
  return 0;
}

async function withChain<T>(dataDir: string | undefined, fn: (c: Awaited<ReturnType<typeof openChainAt>>) => Promise<T>): Promise<T> {
  if (!dataDir) throw new UsageError('--data DIR is required');
  const opened = await openChainAt(dataDir, { settings: loadSettings().chain });
  try {
    return await fn(opened);
  } finally {
    await opened.close();
  }
}

// --nats URL --node ID: the same commands against a running node, through the bus client (cli/node.ts routing).
const BUS_OPTIONS = { nats: { type: 'string' }, node: { type: 'string' } } as const;

async function withBus<T>(values: { nats?: string; node?: string; data?: string }, fn: (c: InfonetClient) => Promise<T>): Promise<T> {
  if (values.data) throw new UsageError('use either --data DIR or --nats URL --node ID');
  if (!values.node) throw new UsageError('--node ID is required with --nats');
  const client = await InfonetClient.connect(values.nats!, values.node, { name: 'infonet-cli', timeoutMs: Number(process.env.INFONET_TIMEOUT_MS) || 5000 }).catch((e: Error) => {
    throw new UsageError(`cannot connect to ${values.nats}: ${e.message}`);
  });
  try {
    return await fn(client);
  } catch (e) {
    // transport failures are not rule rejections: say so instead of "rejected:"
    if (isInfonetError(e) && (e.code === ErrorCodes.UNAVAILABLE || e.code === ErrorCodes.TIMEOUT)) throw new UsageError(e.reason);
    throw e;
  } finally {
    await client.close();
  }
}

async function ingestCmd(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { data: { type: 'string' }, 'max-age-s': { type: 'string' }, ...BUS_OPTIONS });
  if (positionals.length !== 1) throw new UsageError('chain ingest takes exactly one FILE');
  const events = readChainFile(positionals[0]);
  const maxAge = intOption(values['max-age-s'], 'max-age-s');
  if (values.nats) {
    return withBus(values, async (c) => {
      const { accepted, duplicates, rejected } = await c.ingest(events, maxAge);
      printJson({ accepted, duplicates, rejected: rejected.map(({ index, reason }) => ({ index, reason })) });
      return 0;
    });
  }
  return withChain(values.data, async ({ chain }) => {
    const { accepted, duplicates, rejected } = await chain.ingest(events, maxAge);
    printJson({ accepted, duplicates, rejected: rejected.map(({ index, reason }) => ({ index, reason })) });
    return 0;
  });
}

async function exportCmd(args: string[]): Promise<number> {
  const { values } = parse(args, { data: { type: 'string' }, out: { type: 'string' }, ...BUS_OPTIONS }, false);
  if (values.nats) {
    return withBus(values, async (c) => {
      writeOutput(chainToWireJson((await c.exportAll()) as ChainEvent[]), values.out);
      return 0;
    });
  }
  return withChain(values.data, async ({ chain }) => {
    writeOutput(chainToWireJson(await chain.readRange(0, chain.length)), values.out);
    return 0;
  });
}

async function appendCmd(args: string[]): Promise<number> {
  const { values } = parse(args, {
    data: { type: 'string' }, key: { type: 'string' }, type: { type: 'string' }, payload: { type: 'string' }, sequence: { type: 'string' },
    ...BUS_OPTIONS,
  }, false);
  if (!values.key || !values.type || values.payload === undefined) throw new UsageError('--key, --type and --payload are required');
  let identity;
  try {
    identity = identityFromKeyFile(readJsonFile(values.key));
  } catch (e) {
    throw e instanceof UsageError ? e : new UsageError(`bad key file ${values.key}: ${(e as Error).message}`);
  }
  let payload: unknown;
  try {
    payload = JSON.parse(values.payload);
  } catch (e) {
    throw new UsageError(`--payload is not valid JSON: ${(e as Error).message}`);
  }
  if (!isPlainObject(payload)) throw new UsageError('--payload must be a JSON object');
  const sequence = intOption(values.sequence, 'sequence');
  if (values.nats) {
    return withBus(values, async (c) => {
      const r = await c.appendSigned(identity, values.type!, payload as Record<string, unknown>, sequence === undefined ? {} : { sequence });
      process.stdout.write(eventToWireJson(r.event as ChainEvent) + '\n');
      return 0;
    });
  }
  return withChain(values.data, async ({ chain }) => {
    const ev = await chain.appendLocal(identity, values.type!, payload as Record<string, unknown>, sequence);
    process.stdout.write(eventToWireJson(ev) + '\n');
    return 0;
  });
}

export async function chainCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  try {
    switch (sub) {
      case 'validate': return await validateCmd(rest);
      case 'ingest': return await ingestCmd(rest);
      case 'export': return await exportCmd(rest);
      case 'append': return await appendCmd(rest);
      default:
        process.stderr.write(CHAIN_USAGE + '\n');
        return 2;
    }
  } catch (e) {
    if (isInfonetError(e) && sub === 'append') {
      process.stderr.write(`rejected: ${e.reason}\n`);
      return 1;
    }
    return reportError(e);
  }
}
