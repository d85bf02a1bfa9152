// Bus body codec: every command body, reply and event on NATS is MessagePack (msgpackr).
//
// - Plain data only: null, booleans, numbers, bigints, strings, byte strings (Uint8Array/Buffer), arrays, plain maps
//   with string keys. msgpackr's proprietary extensions (records/structures, Error/RegExp/Set objects …) are off for
//   encoding and rejected on decoding, so any MessagePack implementation can talk to the node.
// - Replies use one envelope:   {ok: true, result}   |   {ok: false, error: {code, reason, details?}}
// - Decoding untrusted bytes never throws: decodeRequest / decodeReply return a typed BAD_INPUT value instead.

import type { NatsConnection } from '@nats-io/transport-node';
import { ErrorCodes, InfonetError, type ErrorCode } from '../protocol/errors.js';
import { packMsgpack, unpackMsgpack } from '../protocol/msgpack.js';
import { classifyNatsError } from './nats-errors.js';


/** Max nesting depth accepted when decoding untrusted bodies. */
export const MAX_DECODE_DEPTH = 64;

export type ErrorBody = { code: ErrorCode; reason: string; details?: Record<string, unknown> };
export type ReplyEnvelope<T = unknown> = { ok: true; result: T } | { ok: false; error: ErrorBody };
export type Decoded<T = unknown> = { ok: true; value: T } | { ok: false; error: InfonetError };

/** Encodes plain data to MessagePack. Returns a fresh Uint8Array (safe to keep). */
export function encode(value: unknown): Uint8Array {
  const b = packMsgpack(value);
  return new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/**
 * Encodes plain data for bytes handed straight to NATS (replies, events): msgpackr's output view without encode()'s
 * copy. msgpackr never writes over bytes it returned (the next pack continues after them or in a new slab), so the
 * view stays valid; it keeps its 8 KiB slab alive while referenced, which is why encode() copies for callers that
 * keep the bytes.
 */
export function encodeForSend(value: unknown): Uint8Array {
  return packMsgpack(value);
}

/** Decodes MessagePack, throwing on malformed input. Prefer decodeSafe for anything untrusted. */
export function decode(bytes: Uint8Array): unknown {
  const v: unknown = unpackMsgpack(bytes);
  const bad = checkPlain(v, 0);
  if (bad) throw new InfonetError(ErrorCodes.BAD_INPUT, `malformed body: ${bad}`);
  return v;
}

/** Returns a reason string if `v` is not plain bus data, else null. Iterative-safe via a depth bound. */
function checkPlain(v: unknown, depth: number): string | null {
  if (depth > MAX_DECODE_DEPTH) return `nesting deeper than ${MAX_DECODE_DEPTH}`;
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'boolean':
    case 'number':
    case 'bigint':
    case 'string':
      return null;
    case 'object':
      break;
    default:
      return `unsupported value type ${typeof v}`;
  }
  if (v instanceof Uint8Array) return null;
  if (Array.isArray(v)) {
    for (const x of v) {
      const r = checkPlain(x, depth + 1);
      if (r) return r;
    }
    return null;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return `unsupported object type ${proto?.constructor?.name ?? '?'}`;
  for (const k of Object.keys(v as object)) {
    const r = checkPlain((v as Record<string, unknown>)[k], depth + 1);
    if (r) return r;
  }
  return null;
}

/** Decodes without ever throwing. Empty input decodes to `undefined` (a command without arguments). */
export function decodeSafe<T = unknown>(bytes: Uint8Array | null | undefined): Decoded<T> {
  try {
    if (!bytes || bytes.length === 0) return { ok: true, value: undefined as T };
    return { ok: true, value: decode(bytes) as T };
  } catch (e) {
    if (e instanceof InfonetError) return { ok: false, error: e };
    const msg = e instanceof Error ? e.message : String(e);
    return { ok: false, error: new InfonetError(ErrorCodes.BAD_INPUT, `malformed body: ${msg.slice(0, 200)}`) };
  }
}

/** Decodes a request body; never throws (BAD_INPUT error value on garbage). */
export function decodeRequest<T = unknown>(bytes: Uint8Array | null | undefined): Decoded<T> {
  return decodeSafe<T>(bytes);
}

function errorBody(e: InfonetError): ErrorBody {
  return e.details ? { code: e.code, reason: e.reason, details: e.details } : { code: e.code, reason: e.reason };
}

/** Builds the envelope: InfonetError → {ok:false,…}; any other Error → INTERNAL; anything else → {ok:true,result}. */
export function replyEnvelope<T>(x: T | InfonetError | Error): ReplyEnvelope<T> {
  if (x instanceof InfonetError) return { ok: false, error: errorBody(x) };
  if (x instanceof Error) return { ok: false, error: { code: ErrorCodes.INTERNAL, reason: x.message || 'internal error' } };
  // undefined would be packed as a msgpackr-specific extension; null is portable
  return { ok: true, result: (x === undefined ? null : x) as T };
}

/** Encoded reply envelope, ready for msg.respond(). */
export function toReply(x: unknown): Uint8Array {
  return encodeForSend(replyEnvelope(x));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** Validates a decoded value as a reply envelope. */
export function asReplyEnvelope(v: unknown): ReplyEnvelope | null {
  if (!isRecord(v)) return null;
  if (v.ok === true && 'result' in v) return { ok: true, result: v.result };
  if (v.ok === true) return { ok: true, result: undefined }; // msgpack drops nothing, but be lenient on undefined
  if (v.ok === false && isRecord(v.error) && typeof v.error.code === 'string' && typeof v.error.reason === 'string') {
    const err: ErrorBody = { code: v.error.code as ErrorCode, reason: v.error.reason };
    if (isRecord(v.error.details)) err.details = v.error.details;
    return { ok: false, error: err };
  }
  return null;
}

/** Decodes a reply envelope; never throws (BAD_INPUT error value when the bytes are not an envelope). */
export function decodeReply<T = unknown>(bytes: Uint8Array | null | undefined): Decoded<ReplyEnvelope<T>> {
  const d = decodeSafe(bytes);
  if (!d.ok) return d;
  const env = asReplyEnvelope(d.value);
  if (!env) return { ok: false, error: new InfonetError(ErrorCodes.BAD_INPUT, 'malformed reply: not an {ok, result|error} envelope') };
  return { ok: true, value: env as ReplyEnvelope<T> };
}

/** Envelope → result, throwing the carried InfonetError for {ok:false}. */
export function unwrapReply<T>(env: ReplyEnvelope<T>): T {
  if (env.ok) return env.result;
  throw new InfonetError(env.error.code, env.error.reason, env.error.details);
}

/**
 * Request/reply with the infonet envelope: encodes `body`, waits up to `timeoutMs`, returns `result`.
 * Throws InfonetError: the remote's error for {ok:false}; TIMEOUT; UNAVAILABLE (no responders / connection closed);
 * BAD_INPUT for a malformed reply.
 */
export async function requestTyped<T = unknown>(nc: NatsConnection, subject: string, body: unknown, timeoutMs = 5000): Promise<T> {
  let msg;
  try {
    msg = await nc.request(subject, encodeForSend(body), { timeout: timeoutMs });
  } catch (e) {
    const kind = classifyNatsError(e);
    if (kind === 'no_responders') throw new InfonetError(ErrorCodes.UNAVAILABLE, `no responders for ${subject}`, { subject });
    if (kind === 'timeout') throw new InfonetError(ErrorCodes.TIMEOUT, `request to ${subject} timed out after ${timeoutMs} ms`, { subject });
    if (kind === 'permission') throw new InfonetError(ErrorCodes.UNAVAILABLE, `permission denied: this credential may not publish to ${subject}`, { subject });
    const m = e instanceof Error ? e.message : String(e);
    throw new InfonetError(ErrorCodes.UNAVAILABLE, `request to ${subject} failed: ${m}`, { subject });
  }
  const d = decodeReply<T>(msg.data);
  if (!d.ok) throw new InfonetError(ErrorCodes.BAD_INPUT, `${d.error.reason} (from ${subject})`, { subject });
  return unwrapReply(d.value);
}
