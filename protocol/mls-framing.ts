// MLS wire framing (spec §11.5, §11.6) and the gate directory record. Pure: no I/O, node:crypto only.
//
// §11.5 hides the length of an MLS message inside a bucket: 2-byte big-endian length ‖ message ‖ zero fill up to
// 192, 384, 768, 1536, 3072, 6144 bytes, then multiples of 6144. A gate payload must stay ≤ 4096 canonical bytes
// (§4.5 step 6), so one chain event carries at most a 1536-byte bucket (2048 base64 characters); a larger MLS
// message (a Commit with an UpdatePath to many members) is cut into fragments, each in its own bucket and event.
// Inside the bucket the first byte says which: 0 = a whole MLS message, 1 = a fragment
// (16-byte message id ‖ uint16 index ‖ uint16 count ‖ bytes).
import { createHmac, randomBytes } from 'node:crypto';
import { ErrorCodes, InfonetError } from './errors.js';

export const PADDING_BUCKETS = [192, 384, 768, 1536, 3072, 6144] as const;
const LAST_BUCKET = 6144;
/** The 2-byte length prefix caps one framed message. */
export const MAX_FRAMED_BYTES = 0xffff;
/** Largest bucket that fits a §4.5 gate payload once base64-encoded with the other fields. */
export const GATE_EVENT_BUCKET = 1536;
export const MLS_WIRE_PREFIX = 'mls1:';

const KIND_WHOLE = 0;
const KIND_FRAGMENT = 1;
const FRAGMENT_HEADER = 1 + 16 + 2 + 2;
/** Payload bytes of one fragment so that 2 + header + bytes fills the gate bucket exactly. */
export const FRAGMENT_DATA_BYTES = GATE_EVENT_BUCKET - 2 - FRAGMENT_HEADER;

const bad = (reason: string): never => {
  throw new InfonetError(ErrorCodes.BAD_INPUT, reason);
};

/** §11.5: the bucket a framed length (prefix included) pads to. */
export function bucketFor(framedLength: number): number {
  for (const b of PADDING_BUCKETS) if (framedLength <= b) return b;
  return Math.ceil(framedLength / LAST_BUCKET) * LAST_BUCKET;
}

/** §11.5: uint16be(len) ‖ data ‖ zero fill to the bucket. */
export function padToBucket(data: Uint8Array): Uint8Array {
  if (data.length > MAX_FRAMED_BYTES) bad(`MLS message of ${data.length} bytes exceeds the 2-byte length prefix`);
  const out = new Uint8Array(bucketFor(data.length + 2));
  out[0] = data.length >> 8;
  out[1] = data.length & 0xff;
  out.set(data, 2);
  return out;
}

/** Inverse of padToBucket; refuses a length that points past the bucket or a non-bucket size. */
export function unpadBucket(padded: Uint8Array): Uint8Array {
  if (padded.length < 2 || bucketFor(padded.length) !== padded.length) bad('MLS ciphertext is not a padding bucket');
  const len = (padded[0] << 8) | padded[1];
  if (len + 2 > padded.length) bad('MLS ciphertext length prefix exceeds its bucket');
  return padded.subarray(2, 2 + len);
}

export type MlsUnit =
  | { kind: 'whole'; message: Uint8Array }
  | { kind: 'fragment'; id: string; index: number; count: number; bytes: Uint8Array };

/**
 * Frames an MLS message into one or more gate ciphertext strings ("mls1:" + base64 of a §11.5 bucket), each small
 * enough for one gate event. `fragmentId` is random unless given (tests).
 */
export function frameForGate(message: Uint8Array, fragmentId: Uint8Array = randomBytes(16)): string[] {
  if (1 + message.length + 2 <= GATE_EVENT_BUCKET) {
    const body = new Uint8Array(1 + message.length);
    body[0] = KIND_WHOLE;
    body.set(message, 1);
    return [encodeCiphertext(padToBucket(body))];
  }
  const count = Math.ceil(message.length / FRAGMENT_DATA_BYTES);
  if (count > 0xffff) bad('MLS message too large to fragment');
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const part = message.subarray(i * FRAGMENT_DATA_BYTES, (i + 1) * FRAGMENT_DATA_BYTES);
    const body = new Uint8Array(FRAGMENT_HEADER + part.length);
    body[0] = KIND_FRAGMENT;
    body.set(fragmentId.subarray(0, 16), 1);
    body[17] = i >> 8;
    body[18] = i & 0xff;
    body[19] = count >> 8;
    body[20] = count & 0xff;
    body.set(part, FRAGMENT_HEADER);
    out.push(encodeCiphertext(padToBucket(body)));
  }
  return out;
}

export const encodeCiphertext = (padded: Uint8Array): string => MLS_WIRE_PREFIX + Buffer.from(padded).toString('base64');

/** Parses one gate ciphertext string back into a whole MLS message or a fragment. */
export function parseGateCiphertext(ciphertext: string): MlsUnit {
  const v = String(ciphertext ?? '').trim();
  if (v.slice(0, MLS_WIRE_PREFIX.length).toLowerCase() !== MLS_WIRE_PREFIX) bad('gate ciphertext lacks the mls1: prefix');
  const raw = new Uint8Array(Buffer.from(v.slice(MLS_WIRE_PREFIX.length), 'base64'));
  const body = unpadBucket(raw);
  if (body.length < 1) bad('empty MLS frame');
  if (body[0] === KIND_WHOLE) return { kind: 'whole', message: body.subarray(1) };
  if (body[0] !== KIND_FRAGMENT || body.length < FRAGMENT_HEADER) return bad('unknown MLS frame kind');
  const index = (body[17] << 8) | body[18];
  const count = (body[19] << 8) | body[20];
  if (count < 2 || index >= count) bad('bad MLS fragment header');
  return { kind: 'fragment', id: Buffer.from(body.subarray(1, 17)).toString('hex'), index, count, bytes: body.subarray(FRAGMENT_HEADER) };
}

// ── DM plaintext (§11.5): "SBP1" ‖ uint32be(len) ‖ data ‖ zero fill to a multiple of 512, at most 65,536 bytes ──

export const DM_PLAINTEXT_MAX = 65536;
const SBP1 = [0x53, 0x42, 0x50, 0x31];

export function wrapDmPlaintext(data: Uint8Array): Uint8Array {
  if (data.length > DM_PLAINTEXT_MAX) bad(`DM plaintext exceeds ${DM_PLAINTEXT_MAX} bytes`);
  const total = Math.ceil((8 + data.length) / 512) * 512;
  const out = new Uint8Array(total);
  out.set(SBP1, 0);
  new DataView(out.buffer).setUint32(4, data.length, false);
  out.set(data, 8);
  return out;
}

export function unwrapDmPlaintext(wrapped: Uint8Array): Uint8Array {
  if (wrapped.length < 8 || wrapped.length % 512 !== 0 || !SBP1.every((b, i) => wrapped[i] === b)) bad('DM plaintext is not SBP1-wrapped');
  const len = new DataView(wrapped.buffer, wrapped.byteOffset, wrapped.byteLength).getUint32(4, false);
  if (len > DM_PLAINTEXT_MAX || 8 + len > wrapped.length) bad('SBP1 length exceeds its block');
  return wrapped.subarray(8, 8 + len);
}

// ── §11.6 sender_ref ──

/** First 16 hex characters of HMAC-SHA256(key = persona id, msg = message id). */
export const senderRef = (personaId: string, messageId: string): string =>
  createHmac('sha256', personaId).update(messageId).digest('hex').slice(0, 16);

// ── gate directory record (what gate.list / gate.show return: never plaintext) ──

export interface GateDirectoryRecord {
  gate_id: string;
  display_name: string;
  rules: Record<string, unknown>;
  member: boolean;
  /** The gate epoch (MLS epoch + 1: §4.2 allows only positive epochs on the wire); 0 when not a member. */
  epoch: number;
  member_count: number;
  last_post_at: number | null;
  /** Gate events in the chain this node has not decrypted yet. */
  waiting: number;
  /** Set when this gate's stored MLS state could not be loaded: the gate fails closed. */
  locked?: string;
  /** This node's member persona of the gate (the one whose view `gate.read` returns); absent when not a member. */
  persona?: string;
}

export const GATE_ID_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Gate ids as Appendix D normalises them (lower-case) and short enough for a bus subject / LevelDB key. */
export function normalizeGateId(v: unknown): string {
  const id = String(v ?? '').trim().toLowerCase();
  if (!GATE_ID_RE.test(id)) bad('gate id must be 1-64 characters of a-z, 0-9, ".", "_", "-"');
  return id;
}
