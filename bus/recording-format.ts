// The portable recording file (`infonet record --out FILE`): one msgpack map.
//   {version: 1, started_at (epoch ms), subjects, entries: [{t (ms since start), kind: 'cmd'|'reply'|'evt',
//    subject, data (bytes), corr?}]}
// `corr` links a command (sent as a request) with its reply: both carry the same small integer.
//
import { readFile, writeFile } from 'node:fs/promises';
import { ErrorCodes, InfonetError } from '../protocol/errors.js';
import { decodeSafe, encode } from './codec.js';

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

