// `infonet keygen` and `infonet chain validate|ingest|export|append` (forms kept exact: external
// conformance checks call them).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { packMsgpack, unpackMsgpack } from '../protocol/msgpack.js';
import { openChainAt, type OpenedChain } from '../actors/open-chain.js';
import { deserializeChainState, serializeChainState, type SerializedChainState } from '../protocol/chain-state.js';
import { validateChain } from '../protocol/chain-validator.js';
import type { InfonetClient } from '../bus/client.js';
import { ErrorCodes, isInfonetError } from '../protocol/errors.js';
import { chainToWireJson, eventToWireJson, type ChainEvent } from '../protocol/event.js';
import { generateIdentity, identityFromKeyFile, identityToKeyFile } from '../protocol/identity.js';
import { loadSettings } from '../protocol/settings.js';
import { isPlainObject } from '../protocol/signed-context.js';
import { parseEventsJson } from '../protocol/lossless-json.js';
import { signAppend } from '../protocol/local-sign.js';
import { parse, printJson, readJsonFile, reportError, UsageError, writeOutput } from './args.js';
import { BUS_CLI_OPTIONS, clientFromArgs } from './connect.js';

const CHAIN_USAGE = `usage:
  infonet chain validate FILE [--max-age-s N] [--now UNIX_S] [--state CHECKPOINT]
  infonet chain ingest --data DIR FILE [--max-age-s N]
  infonet chain export --data DIR [--out FILE]
  infonet chain append --data DIR --key KEYFILE --type TYPE --payload JSON [--sequence N]
                               public event types only (§2.8): message, vote, gate_create, prediction,
                               stake, abuse_report, key_rotate, key_revoke
  infonet chain append-gate --data DIR --key KEYFILE --payload JSON [--sequence N]   a gate_message (§4.5)
  infonet chain append-dm --data DIR --key KEYFILE --payload JSON [--sequence N]     a dm_message (§5.6)
  (ingest, export and the appends take --nats URL [--creds FILE] --node ID instead of --data DIR to act
   on a running node; export on a data dir never changes the store)`;

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

/** A chain file, read so that payload number literals survive for event ids (Appendix D). */
function readChainFile(file: string): unknown[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let data: unknown;
  try {
    data = parseEventsJson(text);
  } catch (e) {
    throw new UsageError(`${file} is not valid JSON: ${(e as Error).message}`);
  }
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
      checkpoint = unpackMsgpack(readFileSync(values.state)) as Checkpoint;
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
    writeFileSync(values.state, packMsgpack(cp));
  }
  process.stdout.write(`valid: ${verdict.count} events, head ${verdict.head}${resumable ? ` (incremental from index ${checkpoint!.count})` : ''}\n`);
  return 0;
}

async function withChain<T>(dataDir: string | undefined, fn: (c: OpenedChain) => Promise<T>, opts: { readOnly?: boolean } = {}): Promise<T> {
  if (!dataDir) throw new UsageError('--data DIR is required');
  const opened = await openChainAt(dataDir, { settings: loadSettings().chain, readOnly: opts.readOnly === true });
  try {
    return await fn(opened);
  } finally {
    await opened.close();
  }
}

async function withBus<T>(values: { nats?: string; node?: string; data?: string; creds?: string }, fn: (c: InfonetClient) => Promise<T>): Promise<T> {
  if (values.data) throw new UsageError('use either --data DIR or --nats URL --node ID');
  const client = await clientFromArgs(values);
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
  const { values, positionals } = parse(args, { data: { type: 'string' }, 'max-age-s': { type: 'string' }, ...BUS_CLI_OPTIONS });
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
  const { values } = parse(args, { data: { type: 'string' }, out: { type: 'string' }, ...BUS_CLI_OPTIONS }, false);
  if (values.nats) {
    return withBus(values, async (c) => {
      writeOutput(chainToWireJson((await c.exportAll()) as ChainEvent[]), values.out);
      return 0;
    });
  }
  return withChain(values.data, async ({ chain }) => {
    writeOutput(chainToWireJson(await chain.readRange(0, chain.length)), values.out);
    return 0;
  }, { readOnly: true });
}

/** The three append routes: the bus command each one uses and the actor method behind it. */
const APPEND_ROUTES = {
  public: { command: 'chain.append', local: 'appendPublic' },
  gate: { command: 'chain.append_gate', local: 'appendGate' },
  dm: { command: 'chain.append_dm', local: 'appendDm' },
} as const;

type Route = keyof typeof APPEND_ROUTES;

async function appendCmd(args: string[], route: Route): Promise<number> {
  const { values } = parse(args, {
    data: { type: 'string' }, key: { type: 'string' }, type: { type: 'string' }, payload: { type: 'string' }, sequence: { type: 'string' },
    ...BUS_CLI_OPTIONS,
  }, false);
  const eventType = route === 'gate' ? 'gate_message' : route === 'dm' ? 'dm_message' : values.type;
  if (route !== 'public' && values.type !== undefined && values.type !== eventType) throw new UsageError(`append-${route} appends ${eventType} only (drop --type)`);
  if (!values.key || !eventType || values.payload === undefined) throw new UsageError(route === 'public' ? '--key, --type and --payload are required' : '--key and --payload are required');
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
  const { command, local } = APPEND_ROUTES[route];
  if (values.nats) {
    return withBus(values, async (c) => {
      const seq = sequence ?? (await c.nextSequence(identity.nodeId, eventType)).sequence;
      const input = signAppend(identity, eventType, payload as Record<string, unknown>, seq, Date.now() / 1000);
      // The route's own bus command (engineer B's service); typed loosely until the client names them all.
      const r = (await c.request(command as 'chain.append', input)) as { event: unknown };
      process.stdout.write(eventToWireJson(r.event as ChainEvent) + '\n');
      return 0;
    });
  }
  return withChain(values.data, async ({ chain }) => {
    // Signed here with the local key, then judged by the route's own rules (a private type on the
    // public route is refused with `Unsupported event_type: <type>`, §2.3).
    const seq = sequence ?? chain.nextSequence(identity.nodeId, eventType);
    const input = signAppend(identity, eventType, payload as Record<string, unknown>, seq, Date.now() / 1000);
    const ev = await chain[local](input);
    process.stdout.write(eventToWireJson(ev) + '\n');
    return 0;
  });
}

const STORE_ERRORS: ReadonlySet<string> = new Set([ErrorCodes.STORE_CORRUPT, ErrorCodes.STORE_LOCKED, ErrorCodes.NOT_FOUND]);

export async function chainCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  try {
    switch (sub) {
      case 'validate': return await validateCmd(rest);
      case 'ingest': return await ingestCmd(rest);
      case 'export': return await exportCmd(rest);
      case 'append': return await appendCmd(rest, 'public');
      case 'append-gate': return await appendCmd(rest, 'gate');
      case 'append-dm': return await appendCmd(rest, 'dm');
      default:
        process.stderr.write(CHAIN_USAGE + '\n');
        return 2;
    }
  } catch (e) {
    if (isInfonetError(e) && STORE_ERRORS.has(e.code)) {
      // An unreadable or busy store is not a rule rejection: one line naming the cause (issue 8 item 2).
      process.stderr.write(`error: ${e.reason}\n`);
      return 2;
    }
    if (isInfonetError(e) && sub?.startsWith('append')) {
      process.stderr.write(`rejected: ${e.reason}\n`);
      return 1;
    }
    return reportError(e);
  }
}
