// Replaying a recording against a node: re-issues the recorded commands in order (requests for commands that had a reply subject, plain publishes
// otherwise), waits for each reply before sending the next, and compares the decoded reply with the recorded one.
// Replies are compared with node:util isDeepStrictEqual after the caller's normalisation (decoded msgpack values are
// plain data, so strict structural equality is the right notion). `infonet replay` is cli/record.ts.
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import type { NatsConnection } from '@nats-io/transport-node';
import { ErrorCodes, InfonetError } from '../protocol/errors.js';
import { decodeSafe } from './codec.js';
import { classifyNatsError } from './nats-errors.js';
import { readRecordingFile, type Recording, type RecordingEntry } from './recording-format.js';

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
      if (wait > 1) await delay(wait); // pacing to the recorded schedule, not synchronisation
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
      const kind = classifyNatsError(err);
      if (kind === 'no_responders') actual = NO_RESPONDERS;
      else if (kind === 'timeout') actual = TIMED_OUT;
      else throw err;
    }
    result.sent++;
    result.compared++;
    const recorded = replies.get(e.corr);
    const expected = recorded ? decodedOrBytes(recorded.data) : NO_REPLY;
    const actualCmp = actual === TIMED_OUT && !recorded ? NO_REPLY : actual;
    const differs = !isDeepStrictEqual(norm(subject, expected), norm(subject, actualCmp));
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

