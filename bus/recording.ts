// Record and replay of bus traffic, independent of the node's command set.
//
// Capture design (why not "a stream on the command subjects"):
// - A JetStream stream that directly captures request subjects answers every captured request with a PubAck on
//   the request's reply inbox, i.e. the requester would receive the PubAck instead of (or before) the real reply.
//   `no_ack` avoids that, but stored messages do not keep the reply subject, so replies could not be correlated.
// - A stream on `_INBOX.>` would also capture every JetStream API reply (including the recorder's own) and every
//   unrelated request in the account.
// So the recorder listens with plain core subscriptions: one per recorded subject pattern (commands + events) and
// one on the inbox prefix (`_INBOX.>`). A message under a recorded pattern that carries a reply subject is a
// command; its reply subject is remembered, and the first message seen on that exact inbox subject is its reply.
// Other inbox traffic is ignored. Each captured message is then appended to a JetStream stream of its own
// (`infonet_rec.<stream>`; metadata in headers) so a long recording lives on disk in the server rather than in
// the recorder's memory, and survives a recorder restart. When the server has no JetStream (or `store: 'memory'`),
// the capture stays in memory.
// exportRecording() reads the stream back in order and writes the portable msgpack file:
//   {version: 1, started_at (epoch ms), subjects, entries: [{t (ms since start), kind: 'cmd'|'reply'|'evt',
//    subject, data (bytes), corr?}]}
// `corr` links a command (sent as a request) with its reply: both carry the same small integer.
//
// Replay re-issues the recorded commands in order (requests for commands that had a reply subject, plain publishes
// otherwise), waits for each reply before sending the next, and compares the decoded reply with the recorded one.

import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { connect, headers, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, DiscardPolicy, RetentionPolicy, StorageType, type JetStreamClient, type PubAck } from '@nats-io/jetstream';
import { ErrorCodes, InfonetError } from '../protocol/errors.js';
import { decodeSafe, encode } from './codec.js';
import { ALL_SUBJECTS, encodeNodeToken, parseSubject, withNode } from './subjects.js';
import { elapsed, untilStopped } from './stop-signal.js';

export const RECORDING_VERSION = 1;

export type EntryKind = 'cmd' | 'reply' | 'evt';

export interface RecordingEntry {
  /** ms since the recording started */
  t: number;
  kind: EntryKind;
  subject: string;
  data: Uint8Array;
  /** Correlation id shared by a command (sent as a request) and its reply. */
  corr?: number;
}

export interface Recording {
  version: 1;
  /** epoch ms at which capture started */
  started_at: number;
  subjects: string[];
  entries: RecordingEntry[];
}

export interface RecorderOptions {
  nc: NatsConnection;
  /** JetStream domain holding the capture stream (e.g. 'hub' when recording from a leaf into the hub). */
  jsDomain?: string;
  /** Subject patterns to capture. Default ['infonet.>']. */
  subjects?: string[];
  /** Capture stream name. Default INFONET_REC_<epoch ms>. */
  streamName?: string;
  /** 'auto' (default): JetStream if the server has it, else memory. */
  store?: 'auto' | 'jetstream' | 'memory';
  /** Inbox patterns that carry replies. Default ['_INBOX.>']. */
  replyPatterns?: string[];
  /** Called for every captured entry (progress display). */
  onEntry?: (e: RecordingEntry) => void;
}

export interface Recorder {
  readonly streamName: string;
  readonly store: 'jetstream' | 'memory';
  readonly startedAt: number;
  /** Entries captured so far. */
  count(): { cmd: number; reply: number; evt: number; total: number };
  /** Stops capturing (unsubscribes) and waits for pending stream writes. Idempotent. */
  stop(): Promise<void>;
  /** Collects the captured entries (from the stream, or memory). Flushes pending writes first. */
  collect(): Promise<Recording>;
  /** collect() and write the portable msgpack file. Returns the recording. */
  exportRecording(file: string): Promise<Recording>;
  /** Stops, and deletes the capture stream (unless keepStream). */
  close(opts?: { keepStream?: boolean }): Promise<void>;
}

const H_KIND = 'Infonet-Rec-Kind';
const H_SUBJECT = 'Infonet-Rec-Subject';
const H_T = 'Infonet-Rec-T';
const H_CORR = 'Infonet-Rec-Corr';
const H_SEQ = 'Infonet-Rec-Seq';
const REC_SUBJECT_ROOT = 'infonet_rec';

const MAX_PENDING = 100_000;
const MAX_ORPHANS = 1_000;

function copyBytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b); // msg.data may be a view into a reused read buffer
}

function classify(subject: string, hasReply: boolean): EntryKind {
  const p = parseSubject(subject);
  if (p?.type === 'evt') return 'evt';
  if (p?.type === 'cmd' || hasReply) return 'cmd';
  return 'evt';
}

/** Starts capturing. The returned recorder is live until stop()/close(). */
export async function startRecorder(opts: RecorderOptions): Promise<Recorder> {
  const { nc } = opts;
  const subjects = opts.subjects?.length ? opts.subjects : [ALL_SUBJECTS];
  const replyPatterns = opts.replyPatterns?.length ? opts.replyPatterns : ['_INBOX.>'];
  const streamName = opts.streamName ?? `INFONET_REC_${Date.now()}`;
  if (!/^[A-Za-z0-9_-]+$/.test(streamName)) {
    throw new InfonetError(ErrorCodes.BAD_INPUT, `stream name must match [A-Za-z0-9_-]+: ${streamName}`);
  }
  const recSubject = `${REC_SUBJECT_ROOT}.${streamName}`;

  let js: JetStreamClient | undefined;
  let store: 'jetstream' | 'memory' = 'memory';
  const wantJs = opts.store ?? 'auto';
  if (wantJs !== 'memory') {
    try {
      const jsm = await jetstreamManager(nc, opts.jsDomain ? { domain: opts.jsDomain } : {});
      await jsm.streams.add({
        name: streamName,
        subjects: [recSubject],
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        discard: DiscardPolicy.Old,
        description: `infonet recording of ${subjects.join(', ')}`,
      });
      js = jetstream(nc, opts.jsDomain ? { domain: opts.jsDomain } : {});
      store = 'jetstream';
    } catch (e) {
      if (wantJs === 'jetstream') {
        const m = e instanceof Error ? e.message : String(e);
        throw new InfonetError(ErrorCodes.UNAVAILABLE, `cannot create capture stream ${streamName}: ${m}`);
      }
    }
  }

  const startedAt = Date.now();
  const t0 = performance.now();
  const memory: RecordingEntry[] = [];
  const writes = new Set<Promise<PubAck | void>>();
  let writeError: unknown;
  const counts = { cmd: 0, reply: 0, evt: 0, total: 0 };
  let seq = 0;
  let nextCorr = 1;
  // reply subject → corr of the command waiting for it (insertion-ordered for pruning)
  const pending = new Map<string, number>();
  // replies that arrived before their command (possible when request and reply take different leaf routes)
  const orphans = new Map<string, { t: number; data: Uint8Array }>();

  const emit = (e: RecordingEntry): void => {
    counts[e.kind]++;
    counts.total++;
    opts.onEntry?.(e);
    if (!js) {
      memory.push(e);
      return;
    }
    const h = headers();
    h.set(H_KIND, e.kind);
    h.set(H_SUBJECT, e.subject);
    h.set(H_T, String(e.t));
    h.set(H_SEQ, String(seq++));
    if (e.corr !== undefined) h.set(H_CORR, String(e.corr));
    const p: Promise<PubAck | void> = js.publish(recSubject, e.data, { headers: h }).catch((err: unknown) => {
      writeError ??= err;
    });
    writes.add(p);
    void p.finally(() => writes.delete(p));
  };

  const now = (): number => Math.round((performance.now() - t0) * 1000) / 1000;

  const onCapture = (m: Msg): void => {
    if (m.subject.startsWith(`${REC_SUBJECT_ROOT}.`) || m.subject.startsWith('$JS.')) return; // our own writes
    const t = now();
    const kind = classify(m.subject, !!m.reply);
    const entry: RecordingEntry = { t, kind, subject: m.subject, data: copyBytes(m.data) };
    if (kind === 'cmd' && m.reply) {
      entry.corr = nextCorr++;
      emit(entry);
      const early = orphans.get(m.reply);
      if (early) {
        orphans.delete(m.reply);
        emit({ t: Math.max(early.t, t), kind: 'reply', subject: m.reply, data: early.data, corr: entry.corr });
      } else {
        pending.set(m.reply, entry.corr);
        if (pending.size > MAX_PENDING) pending.delete(pending.keys().next().value as string);
      }
      return;
    }
    emit(entry);
  };

  const onReply = (m: Msg): void => {
    const corr = pending.get(m.subject);
    if (corr === undefined) {
      orphans.set(m.subject, { t: now(), data: copyBytes(m.data) });
      if (orphans.size > MAX_ORPHANS) orphans.delete(orphans.keys().next().value as string);
      return;
    }
    pending.delete(m.subject);
    emit({ t: now(), kind: 'reply', subject: m.subject, data: copyBytes(m.data), corr });
  };

  const subs: Subscription[] = [];
  for (const s of subjects) subs.push(nc.subscribe(s, { callback: (err, m) => { if (!err) onCapture(m); } }));
  for (const s of replyPatterns) subs.push(nc.subscribe(s, { callback: (err, m) => { if (!err) onReply(m); } }));
  await nc.flush(); // subscriptions are registered with the server before we report "recording"

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await nc.flush().catch(() => undefined); // let messages already routed to us arrive
      for (const s of subs) s.unsubscribe();
      await flushWrites();
    })();
    return stopped;
  };

  const flushWrites = async (): Promise<void> => {
    while (writes.size) await Promise.all([...writes]);
    if (writeError) {
      const m = writeError instanceof Error ? writeError.message : String(writeError);
      throw new InfonetError(ErrorCodes.UNAVAILABLE, `writing to capture stream ${streamName} failed: ${m}`);
    }
  };

  const collect = async (): Promise<Recording> => {
    await flushWrites();
    const rec: Recording = { version: RECORDING_VERSION, started_at: startedAt, subjects: [...subjects], entries: [] };
    if (!js) {
      rec.entries = memory.slice();
      return rec;
    }
    rec.entries = await readCaptureStream(nc, opts.jsDomain, streamName);
    return rec;
  };

  return {
    streamName,
    store,
    startedAt,
    count: () => ({ ...counts }),
    stop,
    collect,
    async exportRecording(file: string) {
      const rec = await collect();
      await writeRecordingFile(file, rec);
      return rec;
    },
    async close(o?: { keepStream?: boolean }) {
      await stop().catch(() => undefined);
      if (store === 'jetstream' && !o?.keepStream) {
        const jsm = await jetstreamManager(nc, opts.jsDomain ? { domain: opts.jsDomain } : {});
        await jsm.streams.delete(streamName).catch(() => false);
      }
    },
  };
}

async function readCaptureStream(nc: NatsConnection, domain: string | undefined, streamName: string): Promise<RecordingEntry[]> {
  const jsm = await jetstreamManager(nc, domain ? { domain } : {});
  const info = await jsm.streams.info(streamName);
  const last = info.state.last_seq;
  const expected = info.state.messages;
  const out: { seq: number; e: RecordingEntry }[] = [];
  if (expected > 0) {
    const js = jetstream(nc, domain ? { domain } : {});
    const consumer = await js.consumers.get(streamName); // ordered consumer
    const iter = await consumer.consume();
    for await (const m of iter) {
      const h = m.headers;
      const kind = h?.get(H_KIND) as EntryKind | undefined;
      const subject = h?.get(H_SUBJECT);
      if (h && kind && subject) {
        const e: RecordingEntry = { t: Number(h.get(H_T)), kind, subject, data: copyBytes(m.data) };
        const corr = h.get(H_CORR);
        if (corr) e.corr = Number(corr);
        out.push({ seq: Number(h.get(H_SEQ)), e });
      }
      if (m.info.streamSequence >= last) break;
    }
    iter.stop();
  }
  out.sort((a, b) => a.seq - b.seq);
  return out.map((x) => x.e);
}

// ── portable file ────────────────────────────────────────────────────────────────────────────────────────────────

export async function writeRecordingFile(file: string, rec: Recording): Promise<void> {
  await writeFile(file, encode(rec));
}

/** Reads and validates a recording file; BAD_INPUT on anything malformed. */
export async function readRecordingFile(file: string): Promise<Recording> {
  const bytes = await readFile(file);
  const d = decodeSafe(bytes);
  if (!d.ok) throw new InfonetError(ErrorCodes.BAD_INPUT, `${file}: ${d.error.reason}`);
  return validateRecording(d.value, file);
}

export function validateRecording(v: unknown, label = 'recording'): Recording {
  const bad = (why: string): never => {
    throw new InfonetError(ErrorCodes.BAD_INPUT, `${label}: ${why}`);
  };
  if (typeof v !== 'object' || v === null) return bad('not a map');
  const r = v as Record<string, unknown>;
  if (r.version !== RECORDING_VERSION) return bad(`unsupported version ${String(r.version)}`);
  if (typeof r.started_at !== 'number') return bad('started_at missing');
  if (!Array.isArray(r.entries)) return bad('entries missing');
  const entries: RecordingEntry[] = r.entries.map((x: unknown, i: number) => {
    const e = x as Record<string, unknown>;
    if (typeof e !== 'object' || e === null) return bad(`entry ${i} is not a map`);
    if (typeof e.t !== 'number' || !Number.isFinite(e.t)) return bad(`entry ${i}: t`);
    if (e.kind !== 'cmd' && e.kind !== 'reply' && e.kind !== 'evt') return bad(`entry ${i}: kind`);
    if (typeof e.subject !== 'string') return bad(`entry ${i}: subject`);
    if (!(e.data instanceof Uint8Array)) return bad(`entry ${i}: data`);
    const out: RecordingEntry = { t: e.t, kind: e.kind, subject: e.subject, data: e.data };
    if (e.corr !== undefined) {
      if (typeof e.corr !== 'number') return bad(`entry ${i}: corr`);
      out.corr = e.corr;
    }
    return out;
  });
  const subjects = Array.isArray(r.subjects) ? r.subjects.filter((s): s is string => typeof s === 'string') : [];
  return { version: RECORDING_VERSION, started_at: r.started_at, subjects, entries };
}

// ── replay ───────────────────────────────────────────────────────────────────────────────────────────────────────

export type ReplaySpeed = 'original' | 'max' | number;

export interface ReplayDifference {
  /** 0-based index among the replayed commands */
  index: number;
  /** index of the command in recording.entries */
  entryIndex: number;
  subject: string;
  expected: unknown;
  actual: unknown;
}

export interface AfterReplayResult {
  headMatches: boolean;
  [k: string]: unknown;
}

export interface ReplayOptions {
  /** A recording file path, or an already loaded recording. */
  file?: string;
  recording?: Recording;
  nc: NatsConnection;
  speed?: ReplaySpeed;
  /** Subject rewrite before sending (e.g. aim at another node: s => withNode(s, '!sb_…')). */
  rewriteSubject?: (s: string) => string;
  /** Per-request timeout. Default 5000 ms. */
  timeoutMs?: number;
  /** Maps decoded replies before comparison (e.g. blank out timestamps). Applied to expected and actual. */
  normalize?: (subject: string, value: unknown) => unknown;
  onProgress?: (p: { index: number; total: number; subject: string; differs: boolean }) => void;
  /** Node-specific final check (e.g. "chain head matches"), run after all commands. */
  afterReplay?: () => Promise<AfterReplayResult>;
}

export interface ReplayResult {
  sent: number;
  /** commands whose reply was compared */
  compared: number;
  differing: ReplayDifference[];
  headMatches?: boolean;
  after?: AfterReplayResult;
}

/** Marker values used in differences when a side has no reply. */
export const NO_REPLY = Object.freeze({ $replay: 'no_reply' });
export const TIMED_OUT = Object.freeze({ $replay: 'timeout' });
export const NO_RESPONDERS = Object.freeze({ $replay: 'no_responders' });

function decodedOrBytes(data: Uint8Array): unknown {
  const d = decodeSafe(data);
  return d.ok ? d.value : { $replay: 'undecodable', bytes: data };
}

/** Structural equality for decoded msgpack values (plain objects, arrays, bytes, bigint, NaN-safe numbers). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array && b instanceof Uint8Array) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  if (ak.length !== bk.length) return false;
  return ak.every((k) => Object.prototype.hasOwnProperty.call(bo, k) && deepEqual(ao[k], bo[k]));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function errName(e: unknown): string {
  if (!(e instanceof Error)) return '';
  const x = e as Error & { isNoResponders?: () => boolean };
  if (typeof x.isNoResponders === 'function' && x.isNoResponders()) return 'NoRespondersError';
  return e.cause instanceof Error ? e.cause.name : e.name;
}

/** Re-issues the recorded commands in order and reports replies that differ from the recording. */
export async function replayRecording(opts: ReplayOptions): Promise<ReplayResult> {
  const rec = opts.recording ?? (opts.file ? await readRecordingFile(opts.file) : undefined);
  if (!rec) throw new InfonetError(ErrorCodes.BAD_INPUT, 'replayRecording needs file or recording');
  const speed = opts.speed ?? 'max';
  if (typeof speed === 'number' && !(speed > 0)) throw new InfonetError(ErrorCodes.BAD_INPUT, `speed must be > 0: ${speed}`);
  const timeoutMs = opts.timeoutMs ?? 5000;
  const rewrite = opts.rewriteSubject ?? ((s: string) => s);
  const norm = opts.normalize ?? ((_s: string, v: unknown) => v);

  const replies = new Map<number, RecordingEntry>();
  for (const e of rec.entries) if (e.kind === 'reply' && e.corr !== undefined && !replies.has(e.corr)) replies.set(e.corr, e);
  const cmds = rec.entries.map((e, i) => ({ e, i })).filter((x) => x.e.kind === 'cmd');

  const result: ReplayResult = { sent: 0, compared: 0, differing: [] };
  const firstT = cmds.length ? cmds[0].e.t : 0;
  const start = performance.now();
  for (let k = 0; k < cmds.length; k++) {
    const { e, i } = cmds[k];
    if (speed !== 'max') {
      const due = (e.t - firstT) / (speed === 'original' ? 1 : speed);
      const wait = due - (performance.now() - start);
      if (wait > 1) await sleep(wait); // pacing to the recorded schedule, not synchronisation
    }
    const subject = rewrite(e.subject);
    if (e.corr === undefined) {
      opts.nc.publish(subject, e.data);
      result.sent++;
      opts.onProgress?.({ index: k, total: cmds.length, subject, differs: false });
      continue;
    }
    let actual: unknown;
    try {
      const m = await opts.nc.request(subject, e.data, { timeout: timeoutMs });
      actual = decodedOrBytes(m.data);
    } catch (err) {
      const n = errName(err);
      if (n === 'NoRespondersError') actual = NO_RESPONDERS;
      else if (n === 'TimeoutError') actual = TIMED_OUT;
      else throw err;
    }
    result.sent++;
    result.compared++;
    const recorded = replies.get(e.corr);
    const expected = recorded ? decodedOrBytes(recorded.data) : NO_REPLY;
    const actualCmp = actual === TIMED_OUT && !recorded ? NO_REPLY : actual;
    const differs = !deepEqual(norm(subject, expected), norm(subject, actualCmp));
    if (differs) result.differing.push({ index: k, entryIndex: i, subject, expected, actual });
    opts.onProgress?.({ index: k, total: cmds.length, subject, differs });
  }
  await opts.nc.flush();
  if (opts.afterReplay) {
    result.after = await opts.afterReplay();
    result.headMatches = result.after.headMatches;
  }
  return result;
}

// ── CLI entries (wired into cli/main.ts by the CLI owner) ─────────────────────────────────────────────────────────

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}
const defaultIo: CliIo = { out: (l) => console.log(l), err: (l) => console.error(l) };

function defaultNatsUrl(): string {
  return process.env.INFONET_NATS_URL ?? 'nats://127.0.0.1:4222';
}

function untilSignalOrTimeout(durationS: number | undefined, extra?: Promise<void>): Promise<string> {
  return untilStopped({ duration: durationS === undefined ? undefined : elapsed(durationS), stopped: extra });
}

/**
 * `infonet record --out FILE [--nats URL] [--subjects a,b] [--duration-s N] [--js-domain D] [--stream NAME]
 *  [--memory] [--keep-stream]`. Records until SIGINT/SIGTERM or the duration; returns the exit code.
 * `stopSignal` lets tests/embedders end the recording without signals.
 */
export async function recordCommand(args: string[], io: CliIo = defaultIo, stopSignal?: Promise<void>): Promise<number> {
  let v;
  try {
    ({ values: v } = parseArgs({
      args,
      options: {
        out: { type: 'string' },
        nats: { type: 'string' },
        subjects: { type: 'string' },
        'duration-s': { type: 'string' },
        'js-domain': { type: 'string' },
        stream: { type: 'string' },
        memory: { type: 'boolean' },
        'keep-stream': { type: 'boolean' },
      },
      allowPositionals: false,
    }));
  } catch (e) {
    io.err(`record: ${(e as Error).message}`);
    return 2;
  }
  if (!v.out) {
    io.err('usage: infonet record --out FILE [--nats URL] [--subjects a,b] [--duration-s N] [--js-domain D] [--memory]');
    return 2;
  }
  const duration = v['duration-s'] !== undefined ? Number(v['duration-s']) : undefined;
  if (duration !== undefined && !(duration > 0)) {
    io.err(`record: --duration-s must be a positive number`);
    return 2;
  }
  const subjects = (v.subjects ?? ALL_SUBJECTS).split(',').map((s) => s.trim()).filter(Boolean);
  const url = v.nats ?? defaultNatsUrl();
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: url, name: 'infonet-recorder' });
  } catch (e) {
    io.err(`record: cannot connect to ${url}: ${(e as Error).message}`);
    return 1;
  }
  try {
    const recorder = await startRecorder({
      nc,
      subjects,
      jsDomain: v['js-domain'],
      streamName: v.stream,
      store: v.memory ? 'memory' : 'auto',
    });
    io.err(
      `recording ${subjects.join(', ')} from ${url} into ${recorder.store === 'jetstream' ? `stream ${recorder.streamName}` : 'memory'}` +
        (duration ? ` for ${duration} s` : '') + ' (Ctrl-C to stop)',
    );
    const progress = setInterval(() => {
      const c = recorder.count();
      io.err(`  ${c.total} captured (${c.cmd} cmd, ${c.reply} reply, ${c.evt} evt)`);
    }, 5000);
    progress.unref();
    const why = await untilSignalOrTimeout(duration, stopSignal);
    clearInterval(progress);
    await recorder.stop();
    const rec = await recorder.exportRecording(v.out);
    await recorder.close({ keepStream: !!v['keep-stream'] });
    const c = recorder.count();
    io.out(`wrote ${rec.entries.length} entries (${c.cmd} cmd, ${c.reply} reply, ${c.evt} evt) to ${v.out} [${why}]`);
    return 0;
  } catch (e) {
    io.err(`record: ${(e as Error).message}`);
    return 1;
  } finally {
    await nc.drain().catch(() => undefined);
  }
}

export interface ReplayCommandHooks {
  afterReplay?: (nc: NatsConnection) => Promise<AfterReplayResult>;
  normalize?: ReplayOptions['normalize'];
}

/**
 * `infonet replay FILE [--nats URL] [--speed original|max|N] [--timeout-ms N] [--to-node ID]`.
 * Exit code 0 when every reply matches (and the head matches, if checked), 1 on differences, 2 on usage errors.
 */
export async function replayCommand(args: string[], io: CliIo = defaultIo, hooks: ReplayCommandHooks = {}): Promise<number> {
  let v;
  let positionals: string[];
  try {
    ({ values: v, positionals } = parseArgs({
      args,
      options: {
        nats: { type: 'string' },
        speed: { type: 'string' },
        'timeout-ms': { type: 'string' },
        'to-node': { type: 'string' },
        verbose: { type: 'boolean', short: 'v' },
      },
      allowPositionals: true,
    }));
  } catch (e) {
    io.err(`replay: ${(e as Error).message}`);
    return 2;
  }
  const file = positionals[0];
  if (!file || positionals.length > 1) {
    io.err('usage: infonet replay FILE [--nats URL] [--speed original|max|N] [--timeout-ms N] [--to-node ID]');
    return 2;
  }
  let speed: ReplaySpeed = 'max';
  if (v.speed !== undefined) {
    if (v.speed === 'original' || v.speed === 'max') speed = v.speed;
    else if (Number(v.speed) > 0) speed = Number(v.speed);
    else {
      io.err(`replay: --speed must be original, max or a positive number`);
      return 2;
    }
  }
  const timeoutMs = v['timeout-ms'] !== undefined ? Number(v['timeout-ms']) : 5000;
  let rewriteSubject: ((s: string) => string) | undefined;
  if (v['to-node']) {
    const target = v['to-node'];
    try {
      encodeNodeToken(target);
    } catch (e) {
      io.err(`replay: ${(e as Error).message}`);
      return 2;
    }
    rewriteSubject = (s) => withNode(s, target);
  }
  let recording: Recording;
  try {
    recording = await readRecordingFile(file);
  } catch (e) {
    io.err(`replay: ${(e as Error).message}`);
    return 2;
  }
  const url = v.nats ?? defaultNatsUrl();
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: url, name: 'infonet-replay' });
  } catch (e) {
    io.err(`replay: cannot connect to ${url}: ${(e as Error).message}`);
    return 1;
  }
  try {
    const total = recording.entries.filter((e) => e.kind === 'cmd').length;
    io.err(`replaying ${total} commands from ${file} against ${url} (speed ${speed})`);
    const res = await replayRecording({
      recording,
      nc,
      speed,
      timeoutMs,
      rewriteSubject,
      normalize: hooks.normalize,
      afterReplay: hooks.afterReplay ? () => hooks.afterReplay!(nc) : undefined,
      onProgress: (p) => {
        if (v.verbose || p.differs) io.err(`  [${p.index + 1}/${p.total}] ${p.subject}${p.differs ? '  DIFFERS' : ''}`);
        else if ((p.index + 1) % 100 === 0) io.err(`  ${p.index + 1}/${p.total}`);
      },
    });
    for (const d of res.differing) {
      io.out(`differs #${d.index} ${d.subject}\n  expected: ${show(d.expected)}\n  actual:   ${show(d.actual)}`);
    }
    io.out(`sent ${res.sent}, compared ${res.compared}, differing ${res.differing.length}` +
      (res.headMatches === undefined ? '' : `, chain head ${res.headMatches ? 'matches' : 'DIFFERS'}`));
    return res.differing.length === 0 && res.headMatches !== false ? 0 : 1;
  } catch (e) {
    io.err(`replay: ${(e as Error).message}`);
    return 1;
  } finally {
    await nc.drain().catch(() => undefined);
  }
}

function show(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (typeof x === 'bigint') return `${x}n`;
    if (x instanceof Uint8Array) return `<${Buffer.from(x).toString('hex')}>`;
    if (x && typeof x === 'object' && (x as { type?: string }).type === 'Buffer' && Array.isArray((x as { data?: unknown }).data)) {
      return `<${Buffer.from((x as { data: number[] }).data).toString('hex')}>`;
    }
    return x;
  });
}
