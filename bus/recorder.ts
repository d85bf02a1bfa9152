// Capturing bus traffic into a recording (bus/recording-format.ts); `infonet record` is cli/record.ts.
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
// exportRecording() reads the stream back in order and writes the portable file.

import { performance } from 'node:perf_hooks';
import { headers, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, DiscardPolicy, RetentionPolicy, StorageType, type JetStreamClient, type PubAck } from '@nats-io/jetstream';
import { ErrorCodes, InfonetError } from '../protocol/errors.js';
import { RECORDING_VERSION, writeRecordingFile, type EntryKind, type Recording, type RecordingEntry } from './recording-format.js';
import { ALL_SUBJECTS, parseSubject } from './subjects.js';

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

