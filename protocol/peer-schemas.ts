// Body schemas of the peer routes (issue 8 item 5, issue 9 "one schema library": zod). Every field a handler reads is
// type-checked here before use, so a value like `{"toString":1}` where a string belongs is a typed refusal with a
// reason, never an exception (it was an HTTP 500). Unknown keys pass (loose objects): peers of other versions may
// send more. The spec's in-band reason strings stay the first thing a refusal says (Appendix C).
import { z } from 'zod';
import {
  ACK_MAX_ITEMS, PEER_PUSH_MAX_EVENTS, PULL_MAX_MAILBOXES, REPLICATE_BATCH_MAX_ITEMS,
} from './peer-routes.js';

/** A lone UTF-16 surrogate cannot be stored as UTF-8: it would come back as U+FFFD, a different msg_id or key. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const wellFormed = (v: unknown): boolean => typeof v !== 'string' || !LONE_SURROGATE.test(v);
const WELL_FORMED = { error: 'must be well-formed Unicode text' };

/** Envelope text fields: strings (numbers are tolerated and read as their decimal text, as the original did). */
const text = z.union([z.string(), z.number()], { error: 'must be a string' }).nullish().refine(wellFormed, WELL_FORMED);
const optionalString = z.string({ error: 'must be a string' }).nullish().refine(wellFormed, WELL_FORMED);

const senderProof = z.looseObject({
  public_key: z.string({ error: 'must be a string' }),
  signature: z.string({ error: 'must be a string' }),
}, { error: 'must be an object' });

/** §7.8 envelope: accept_replica decides about values; this only guarantees the types it reads. */
export const envelopeSchema = z.looseObject({
  msg_id: text, mailbox_key: text, sender_block_ref: text, ciphertext: text, delivery_class: text,
  recipient_id: text, recipient_token: text, sender_id: text, sender_seal: text, relay_salt: text,
  payload_format: text, session_welcome: text,
  timestamp: z.union([z.number(), z.string()], { error: 'must be a number' }).nullish(),
  sender_proof: senderProof.nullish(),
}, { error: 'envelope must be an object' });

/** String.prototype.isWellFormed (Node 20; not in the ES2022 lib types): false exactly when LONE_SURROGATE matches. */
const isWellFormedText = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

const ENVELOPE_TEXT_FIELDS = [
  'msg_id', 'mailbox_key', 'sender_block_ref', 'ciphertext', 'delivery_class', 'recipient_id', 'recipient_token',
  'sender_id', 'sender_seal', 'relay_salt', 'payload_format', 'session_welcome',
] as const;

/**
 * True when `envelopeSchema` certainly accepts `v` (the common case: what a peer's relay sends), checked without
 * zod's copy of every item (issue 14: zod was ~7 % of a receiver's CPU per envelope). Anything else — including
 * every refusal — goes to the schema, so the answers and their reasons are unchanged.
 */
function plainlyValidEnvelope(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  if (Object.hasOwn(o, '__proto__')) return false; // zod's copy drops an own "__proto__" key: let it decide
  for (const k of ENVELOPE_TEXT_FIELDS) {
    const x = o[k];
    if (x === undefined || x === null || (typeof x === 'number' && Number.isFinite(x))) continue;
    if (typeof x !== 'string' || !isWellFormedText(x)) return false;
  }
  const ts = o.timestamp;
  if (ts !== undefined && ts !== null && typeof ts !== 'string' && !(typeof ts === 'number' && Number.isFinite(ts))) return false;
  const p = o.sender_proof as Record<string, unknown> | null | undefined;
  if (p === undefined || p === null) return true;
  return typeof p === 'object' && !Array.isArray(p) && typeof p.public_key === 'string' && typeof p.signature === 'string';
}

/** `check(envelopeSchema, raw, 'envelope')`, with the fast path above for envelopes it certainly accepts. */
export function checkEnvelope(raw: unknown): Checked<z.output<typeof envelopeSchema>> {
  return plainlyValidEnvelope(raw) ? { ok: true, value: raw as z.output<typeof envelopeSchema> } : check(envelopeSchema, raw, 'envelope');
}

/** §8.4 body. */
export const replicateEnvelopeBody = z.looseObject({
  envelope: z.unknown().optional(),
}, { error: 'envelope must be an object' });

/**
 * A body holding one list of at most `max` items of any JSON value (each item is judged by its route). `notList` is
 * the reason for a missing or non-list value (and a body that is not an object), `tooMany` for a longer list.
 */
function boundedListBody<K extends string>(field: K, max: number, notList: string, tooMany = notList) {
  const list = z.array(z.unknown(), { error: notList }).max(max, { error: tooMany });
  return z.looseObject({ [field]: list } as Record<K, typeof list>, { error: notList });
}

/** [extension] batch body (docs/dm-relay.md). Items are checked one by one so each gets its own result. */
export const replicateEnvelopesBody = boundedListBody('envelopes', REPLICATE_BATCH_MAX_ITEMS,
  `envelopes must be a list of at most ${REPLICATE_BATCH_MAX_ITEMS} items`);

/** §8.5 body: the events themselves are judged by ingest (§9.2), which takes any JSON value per item. */
export const peerPushBody = boundedListBody('events', PEER_PUSH_MAX_EVENTS,
  'events must be a list', `too many events (max ${PEER_PUSH_MAX_EVENTS})`);

/** §10.1 / §10.2 mailbox descriptor. */
export const mailboxDescriptor = z.looseObject({
  delivery_class: optionalString,
  recipient_id: optionalString,
  recipient_token_hash: optionalString,
}, { error: 'must be an object' });

export const ackItem = mailboxDescriptor.extend({ msg_id: z.string({ error: 'must be a string' }).refine(wellFormed, WELL_FORMED) });

export const ackBody = boundedListBody('acks', ACK_MAX_ITEMS, `acks must be a list of at most ${ACK_MAX_ITEMS} items`);

export const pullBody = boundedListBody('mailboxes', PULL_MAX_MAILBOXES,
  'mailboxes must be a list', `too many mailboxes (max ${PULL_MAX_MAILBOXES})`);

/** §9.4 POST body. A body that is not an object reads as `{}` (then `locator must be a list`), as in the original. */
export const syncPostBody = z.looseObject({
  protocol_version: z.unknown().optional(),
  locator: z.array(z.unknown(), { error: 'locator must be a list' }),
  limit: z.unknown().optional(),
  expected_head: z.unknown().optional(),
  unredacted: z.unknown().optional(),
});

export type Checked<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * Parses `value`; the refusal reason is the first issue's message, prefixed with the field path when the message
 * does not already name it (e.g. `envelope.msg_id must be a string`).
 */
export function check<S extends z.ZodType>(schema: S, value: unknown, prefix = ''): Checked<z.output<S>> {
  const r = schema.safeParse(value);
  if (r.success) return { ok: true, value: r.data };
  const issue = r.error.issues[0];
  const path = [prefix, ...(issue?.path ?? []).map(String)].filter(Boolean).join('.');
  const msg = issue?.message ?? 'invalid input';
  const named = path === '' || /^[a-z_]+ (must|too)/.test(msg) || msg.startsWith('too many');
  return { ok: false, reason: named ? msg : `${path} ${msg}` };
}
