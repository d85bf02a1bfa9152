// Body schemas of the bus commands (issue 9: one schema library, zod, for bus bodies, HTTP bodies and the config
// file). Each handler parses its body here first: a wrong type anywhere is a typed BAD_INPUT naming the field, never
// an exception in an actor. Objects are loose (the chain rules judge extra event fields; newer clients may send more)
// and msgpack nil reads as "absent". What a value *means* — a valid event, a mailbox, a signature — is decided by the
// actors and protocol/, which keep the spec's reason strings (signed mailbox requests: protocol/mailbox-access.ts).
import { z } from 'zod';
import { ErrorCodes, InfonetError } from '../protocol/errors.js';
import { EXPORT_MAX_LIMIT, POLL_MAX_LIMIT } from './commands.js';

const str = (field: string) => z.string({ error: `${field} must be a string` });
const required = (field: string) => z.string({ error: `${field} is required and must be a string` });
const int = (field: string, min: number, max: number) =>
  z.number({ error: `${field} must be an integer in ${min}..${max}` }).int({ error: `${field} must be an integer in ${min}..${max}` })
    .min(min, { error: `${field} must be an integer in ${min}..${max}` }).max(max, { error: `${field} must be an integer in ${min}..${max}` });
const body = <T extends z.core.$ZodLooseShape>(command: string, shape: T) => z.looseObject(shape, { error: `${command}: body must be a map` });

/** An externally signed event for the three append paths (§2.8 public, §4.5 gate, §5.6 DM). */
export const appendBody = (command: string) =>
  body(command, {
    event_type: required('event_type'),
    node_id: required('node_id'),
    signature: required('signature'),
    public_key: required('public_key'),
    public_key_algo: required('public_key_algo'),
    protocol_version: str('protocol_version').nullish(),
    timestamp: z.number({ error: 'timestamp must be a number' }).finite({ error: 'timestamp must be a number' }).nullish(),
    payload: z.unknown().optional(), // presence checked below, with the reason the node always gave
  }).refine((b) => 'payload' in b, { error: 'payload is required', path: ['payload'] });

/**
 * Events per bus ingest. The server's max_payload (1 MB) bounds a body already; this bounds the work one command can
 * queue (a wire event is ≥ ~200 bytes, so a full 1 MB body stays under it). `chain ingest --nats` sends whole files.
 */
export const INGEST_MAX_EVENTS = 10_000;

export const ingestBody = body('chain.ingest', {
  events: z.array(z.unknown(), { error: 'events must be a list' }).max(INGEST_MAX_EVENTS, { error: `too many events (max ${INGEST_MAX_EVENTS})` }),
  max_age_s: int('max_age_s', 0, Number.MAX_SAFE_INTEGER).nullish(),
});

export const exportBody = body('chain.export', {
  from: int('from', 0, Number.MAX_SAFE_INTEGER).nullish(),
  limit: int('limit', 1, EXPORT_MAX_LIMIT).nullish(),
}).nullish();

export const nextSequenceBody = body('chain.next_sequence', {
  node_id: required('node_id').max(256, { error: 'node_id too long' }),
  event_type: required('event_type').max(64, { error: 'event_type too long' }),
});

/** §7.5 deposit: the relay rules decide about values; this guarantees the types they read. */
export const depositBody = body('dm.deposit', {
  sender_id: required('sender_id'),
  ciphertext: required('ciphertext'),
  delivery_class: required('delivery_class'),
  ...Object.fromEntries(
    ['raw_sender_id', 'recipient_id', 'msg_id', 'recipient_token', 'sender_seal', 'relay_salt', 'sender_token_hash', 'payload_format', 'session_welcome']
      .map((k) => [k, str(k).nullish()]),
  ),
  sender_proof: z.looseObject({}, { error: 'sender_proof must be a map' }).nullish(),
});

/**
 * Signed mailbox requests (dm.count/poll/claim/pending_ids) and blocks (dm.block): a map whose typed fields are read
 * — presence and meaning with the spec's reasons (`Missing nonce`, `Missing signature fields` …) — by
 * protocol/mailbox-access.ts and protocol/block-list.ts after this check.
 */
export const signedMailboxBody = (command: string) =>
  body(command, {
    agent_id: str('agent_id').nullish(),
    claims: z.array(z.unknown(), { error: 'claims must be a list' }).nullish(),
    public_key: str('public_key').nullish(),
    public_key_algo: str('public_key_algo').nullish(),
    signature: str('signature').nullish(),
    limit: int('limit', 1, POLL_MAX_LIMIT).nullish(),
    msg_ids: z.array(str('msg_ids[]'), { error: 'msg_ids must be a list of strings' }).nullish(),
  });

export const blockBody = body('dm.block', {
  agent_id: str('agent_id').nullish(),
  sender_id: str('sender_id').nullish(),
  action: str('action').nullish(),
});

/** Drops nil values (msgpack nil) so optional fields read as absent downstream. */
function compact<T>(v: T): T {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== undefined && x !== null) out[k] = x;
  return out as T;
}

/** Parses a command body: the typed value (nil fields dropped), or BAD_INPUT with the reason. */
export function parseBody<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return compact(r.data);
  // Our messages name their field; a message that does not (zod's own) gets the field path in front.
  const issue = r.error.issues[0];
  const path = (issue?.path ?? []).map(String).join('.');
  const msg = issue?.message ?? 'invalid body';
  const last = String(issue?.path?.[issue.path.length - 1] ?? '');
  throw new InfonetError(ErrorCodes.BAD_INPUT, path && !msg.includes(last) ? `${path}: ${msg}` : msg);
}
