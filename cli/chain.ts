// `infonet keygen` and `infonet chain validate|ingest|export|append` (forms kept exact: external
// conformance checks call them).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { packMsgpack, unpackMsgpack } from '../protocol/msgpack.js';
import { openChainAt, type OpenedChain } from '../actors/open-chain.js';
import { deserializeChainState, serializeChainState, type SerializedChainState } from '../protocol/chain-state.js';
import { emptyChainState } from '../protocol/chain-state.js';
import { validateChain, type ChainVerdict } from '../protocol/chain-validator.js';
import type { ValidationContext } from '../protocol/validate-event.js';
import type { IngestResult } from '../actors/chain-ledger.js';
import { EXPORT_MAX_LIMIT } from '../bus/commands.js';
import { INGEST_MAX_EVENTS } from '../bus/command-schemas.js';
import type { InfonetClient } from '../bus/client.js';
import { ErrorCodes, isInfonetError } from '../protocol/errors.js';
import { eventToWireJson, type ChainEvent } from '../protocol/event.js';
import { generateIdentity, identityFromKeyFile, identityToKeyFile } from '../protocol/identity.js';
import { loadSettings } from '../protocol/settings.js';
import { isPlainObject } from '../protocol/signed-context.js';
import { signAppend } from '../protocol/local-sign.js';
import { parse, printJson, readJsonFile, reportError, UsageError, writeOutput } from './args.js';
import { BUS_CLI_OPTIONS, clientFromArgs } from './connect.js';
import { batchElements, PROGRESS_EVERY, streamChainFile, writeChainStream } from './chain-stream.js';
import { memTracer } from './chain-memtrace.js';
import { tightenHeapGrowth } from './chain-heap.js';
import { CryptoPool, POOL_MIN_BATCH } from '../actors/crypto-pool.js';
import { GENESIS_HASH } from '../protocol/constants.js';
import { ChainStore, checkStoredEvent, corruptStoreError } from '../store/chain-store.js';
import { openDatabase, unreadableStoreError } from '../store/db.js';

// Streaming sizes (issue 14): memory stays bounded by one batch whatever the file size.
const VALIDATE_BATCH = 512;
const LOCAL_INGEST_EVENTS = 1_024;
const BUS_INGEST_EVENTS = Math.min(2_000, INGEST_MAX_EVENTS);
const BUS_INGEST_CHARS = 512 * 1024;
const EXPORT_PAGE = 256;
const EXPORT_READ_BATCH = 64;

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

interface Checkpoint {
  version: 1;
  count: number;
  head: string;
  state: SerializedChainState;
}

/**
 * Validates the streamed file from its start, or only past a checkpoint whose head is still at its index.
 * Signatures of the next batch are checked on the crypto worker pool while this one is validated in
 * order (the validator only looks the verdicts up), so at most two batches are held at a time.
 */
async function validateStream(file: string, ctx: ValidationContext, checkpoint: Checkpoint | null): Promise<{ verdict: ChainVerdict; resumed: boolean } | null> {
  let state = checkpoint ? deserializeChainState(checkpoint.state) : emptyChainState();
  let index = 0; // events validated so far (skipped prefix included)
  let read = 0; // events read so far
  let pool: CryptoPool | null = null;
  let pending: { events: unknown[]; verdicts: Promise<WeakMap<object, boolean> | undefined> } | null = null;
  const trace = memTracer('validate');
  const validatePending = async (): Promise<ChainVerdict | null> => {
    const { events, verdicts } = pending!;
    pending = null;
    const v = validateChain(events, { ...ctx, signatureVerdicts: await verdicts }, state);
    if (!v.valid) return { ...v, index: index + v.index };
    state = v.state;
    const before = index;
    index += events.length;
    trace(before, index);
    if (Math.floor(index / PROGRESS_EVERY) > Math.floor(before / PROGRESS_EVERY)) process.stderr.write(`validate: ${index} events\n`);
    return null;
  };
  try {
    for await (const batch of batchElements(streamChainFile(file), VALIDATE_BATCH)) {
      let events = batch.map((el) => el.value);
      if (checkpoint && read < checkpoint.count) {
        const skip = Math.min(events.length, checkpoint.count - read);
        if (read + skip === checkpoint.count) {
          const last = events[skip - 1];
          if (!isPlainObject(last) || last.event_id !== checkpoint.head) return null;
        }
        events = events.slice(skip);
        read += skip;
        index += skip;
      }
      read += events.length;
      if (events.length === 0) continue;
      if (events.length >= POOL_MIN_BATCH) pool ??= new CryptoPool();
      // A batch whose check fails (or is dropped by an early return) leaves its events to the inline check.
      const verdicts = pool && events.length >= POOL_MIN_BATCH ? pool.verifyEvents(events).catch(() => undefined) : Promise.resolve(undefined);
      const next = { events, verdicts };
      if (pending) {
        const bad = await validatePending();
        if (bad) return { verdict: bad, resumed: checkpoint !== null };
      }
      pending = next;
    }
    if (pending) {
      const bad = await validatePending();
      if (bad) return { verdict: bad, resumed: checkpoint !== null };
    }
  } finally {
    await pool?.close();
  }
  if (checkpoint && read < checkpoint.count) return null; // the file is shorter than the checked prefix
  return { verdict: { valid: true, count: state.length, head: state.head, state }, resumed: checkpoint !== null };
}

async function validateCmd(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { 'max-age-s': { type: 'string' }, now: { type: 'string' }, state: { type: 'string' } });
  if (positionals.length !== 1) throw new UsageError('chain validate takes exactly one FILE');
  const file = positionals[0];
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
  if (checkpoint !== null && !(checkpoint.version === 1 && checkpoint.count > 0)) checkpoint = null;
  // Not resumable (the prefix changed): a second pass from the start.
  tightenHeapGrowth();
  const { verdict, resumed } = (checkpoint ? await validateStream(file, ctx, checkpoint) : null) ?? (await validateStream(file, ctx, null))!;
  if (!verdict.valid) {
    process.stdout.write(`invalid at index ${verdict.index}: ${verdict.rejection.reason}\n`);
    return 1;
  }
  if (values.state) {
    const cp: Checkpoint = { version: 1, count: verdict.count, head: verdict.head, state: serializeChainState(verdict.state) };
    writeFileSync(values.state, packMsgpack(cp));
  }
  process.stdout.write(`valid: ${verdict.count} events, head ${verdict.head}${resumed ? ` (incremental from index ${checkpoint!.count})` : ''}\n`);
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
  const file = positionals[0];
  const maxAge = intOption(values['max-age-s'], 'max-age-s');
  // Batches in file order: the same verdicts as one call with the whole file (ingest is sequential).
  const run = async (ingest: (events: unknown[]) => Promise<IngestResult>, maxEvents: number, maxChars: number): Promise<number> => {
    const total: IngestResult = { accepted: 0, duplicates: 0, rejected: [] };
    const trace = memTracer('ingest');
    let index = 0;
    for await (const batch of batchElements(streamChainFile(file), maxEvents, maxChars)) {
      const { accepted, duplicates, rejected } = await ingest(batch.map((el) => el.value));
      total.accepted += accepted;
      total.duplicates += duplicates;
      for (const r of rejected) total.rejected.push({ index: index + r.index, reason: r.reason });
      const before = index;
      index += batch.length;
      trace(before, index);
      if (Math.floor(index / PROGRESS_EVERY) > Math.floor(before / PROGRESS_EVERY)) {
        process.stderr.write(`ingest: ${index} events (${total.accepted} accepted, ${total.duplicates} duplicates, ${total.rejected.length} rejected)\n`);
      }
    }
    printJson({ accepted: total.accepted, duplicates: total.duplicates, rejected: total.rejected.map(({ index: i, reason }) => ({ index: i, reason })) });
    return 0;
  };
  if (values.nats) {
    // Each request stays well under the bus's 1 MB max_payload and INGEST_MAX_EVENTS.
    return withBus(values, (c) => run((events) => c.ingest(events, maxAge), BUS_INGEST_EVENTS, BUS_INGEST_CHARS));
  }
  tightenHeapGrowth();
  return withChain(values.data, ({ chain }) => run((events) => chain.ingest(events, maxAge), LOCAL_INGEST_EVENTS, Infinity));
}

async function exportCmd(args: string[]): Promise<number> {
  const { values } = parse(args, { data: { type: 'string' }, out: { type: 'string' }, ...BUS_CLI_OPTIONS }, false);
  if (values.nats) {
    return withBus(values, async (c) => {
      async function* pages(): AsyncGenerator<string[]> {
        let next: number | null = 0;
        while (next !== null) {
          const page = await c.exportPage(next, EXPORT_MAX_LIMIT);
          yield (page.events as ChainEvent[]).map(eventToWireJson);
          next = page.next;
        }
      }
      await writeChainStream(pages(), values.out);
      return 0;
    });
  }
  return exportDataDir(values.data, values.out);
}

/**
 * `chain export --data DIR`: straight from a read-only snapshot of the store, without opening the chain
 * actor (its derived state — ~200 MiB at 1M events — is not needed to write the log out). Instead of the
 * open-time check, every event is re-hashed and re-linked on its way out and the last must be the head
 * record's (§3.2.1, T74): a corrupt store fails naming the height and the partial --out file is removed.
 */
async function exportDataDir(dataDir: string | undefined, outFile: string | undefined): Promise<number> {
  if (!dataDir) throw new UsageError('--data DIR is required');
  const db = await openDatabase(dataDir, { readOnly: true });
  try {
    const store = new ChainStore(db);
    const { length, head } = await store.readMeta();
    const mismatch = (height: number) => corruptStoreError(dataDir, height, `head record (length ${length}) does not match the event log (length ${height})`);
    if ((await store.readRange(length, 1)).length > 0) throw corruptStoreError(dataDir, length, `the event log goes on past the head record (length ${length})`);
    async function* pages(): AsyncGenerator<string[]> {
      // One pass, small reads and pages: each page is dead before V8 would move it to the old generation.
      let prev = GENESIS_HASH;
      let page: string[] = [];
      let height = 0;
      for await (const ev of store.iterate(0, length, EXPORT_READ_BATCH)) {
        const problem = checkStoredEvent(ev, prev);
        if (problem) throw corruptStoreError(dataDir!, height, problem);
        prev = ev.event_id;
        height++;
        page.push(eventToWireJson(ev));
        if (page.length === EXPORT_PAGE) {
          yield page;
          page = [];
        }
      }
      if (height !== length || prev !== head) throw mismatch(height);
      yield page;
    }
    await writeChainStream(pages(), outFile);
    return 0;
  } catch (e) {
    // A LevelDB read failure (e.g. a truncated table) is an unreadable store, as at open.
    throw isInfonetError(e) ? e : unreadableStoreError(dataDir, e);
  } finally {
    await db.close();
  }
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

const STORE_ERRORS: ReadonlySet<string> = new Set([ErrorCodes.STORE_CORRUPT, ErrorCodes.STORE_LOCKED, ErrorCodes.NOT_FOUND, ErrorCodes.UNAVAILABLE]);

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
