// ─────────────────────────────────────────────────────────────────────────────────────────────────────────────────
// infonet NATS subject scheme (this comment block is the documentation of record)
//
//   infonet.<node>.cmd.<area>.<verb>    request/reply commands addressed to one node, e.g.
//                                       infonet.sb_56475aa1.cmd.chain.append   (body: msgpack, reply: envelope,
//                                       see bus/codec.ts)
//   infonet.<node>.evt.<kind>           events published by a node, e.g. infonet.sb_56475aa1.evt.chain_appended
//
// Tokens
//   <area>, <verb>, <kind>   one NATS token each, restricted to [A-Za-z0-9_-]+ (so never '.', '*', '>' or spaces).
//                            Use snake_case for multi-word names: `evt.chain_appended`, `cmd.gate.post_message`.
//   <node>                   the node id encoded as a single token:
//     - canonical ids `!<body>` with <body> in [A-Za-z0-9_-]+ (e.g. `!sb_56475aa…`) drop the leading '!':
//           !sb_56475aa1  →  sb_56475aa1
//     - every other id is written as '~' followed by the base64url (no padding) of its UTF-8 bytes:
//           node A        →  ~bm9kZSBB
//       '~' never starts a canonical token, so decoding is unambiguous: a token starting with '~' is base64url,
//       anything else gets its '!' back. '!' itself is legal in NATS subjects, but it is awkward in shells and in
//       `--subjects` arguments, and stripping it keeps subjects readable.
//
// Wildcards (for recording, monitoring and permissions)
//   infonet.>                       everything infonet (ALL_SUBJECTS, the recorder's default)
//   infonet.<node>.>                everything addressed to / published by one node
//   infonet.<node|*>.cmd.>          all commands (of one node / of every node)
//   infonet.<node|*>.evt.<kind|*>   events
//
// Request replies travel on the requester's inbox (`_INBOX.<nuid>.<n>`), not under `infonet.`; the recorder
// (bus/recording.ts) correlates them through the request's reply subject.
// ─────────────────────────────────────────────────────────────────────────────────────────────────────────────────

import { ErrorCodes, InfonetError } from '../protocol/errors.js';

export const SUBJECT_ROOT = 'infonet';
/** Everything under the infonet root. */
export const ALL_SUBJECTS = `${SUBJECT_ROOT}.>`;

const TOKEN_RE = /^[A-Za-z0-9_-]+$/;
const B64URL_RE = /^[A-Za-z0-9_-]*$/;
const LONE_SURROGATE_RE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True if `s` is a safe single subject token for area/verb/kind: [A-Za-z0-9_-]+. */
export function isSafeToken(s: string): boolean {
  return TOKEN_RE.test(s);
}

function assertToken(what: string, s: string): void {
  if (typeof s !== 'string' || !TOKEN_RE.test(s)) {
    throw new InfonetError(ErrorCodes.BAD_INPUT, `invalid ${what} subject token: ${JSON.stringify(s)} (allowed: [A-Za-z0-9_-]+)`);
  }
}

/** Node id → subject token (see the scheme above). Throws BAD_INPUT for an empty id. */
export function encodeNodeToken(nodeId: string): string {
  if (typeof nodeId !== 'string' || nodeId.length === 0) {
    throw new InfonetError(ErrorCodes.BAD_INPUT, 'node id must be a non-empty string');
  }
  if (LONE_SURROGATE_RE.test(nodeId)) throw new InfonetError(ErrorCodes.BAD_INPUT, 'node id is not well-formed Unicode');
  if (nodeId.startsWith('!')) {
    const body = nodeId.slice(1);
    if (TOKEN_RE.test(body)) return body;
  }
  return '~' + Buffer.from(nodeId, 'utf8').toString('base64url');
}

/** Subject token → node id, or null if the token is not a valid encoding. */
export function decodeNodeToken(token: string): string | null {
  if (typeof token !== 'string' || token.length === 0) return null;
  if (token.startsWith('~')) {
    const b64 = token.slice(1);
    if (b64.length === 0 || !B64URL_RE.test(b64)) return null;
    const id = Buffer.from(b64, 'base64url').toString('utf8');
    // reject non-canonical encodings so encode(decode(t)) === t
    try {
      return id.length > 0 && encodeNodeToken(id) === token ? id : null;
    } catch {
      return null;
    }
  }
  return TOKEN_RE.test(token) ? `!${token}` : null;
}

/** `infonet.<node>.cmd.<area>.<verb>` */
export function cmdSubject(nodeId: string, area: string, verb: string): string {
  assertToken('area', area);
  assertToken('verb', verb);
  return `${SUBJECT_ROOT}.${encodeNodeToken(nodeId)}.cmd.${area}.${verb}`;
}

/** `infonet.<node>.evt.<kind>` */
export function evtSubject(nodeId: string, kind: string): string {
  assertToken('kind', kind);
  return `${SUBJECT_ROOT}.${encodeNodeToken(nodeId)}.evt.${kind}`;
}

/** `infonet.<node>.>` */
export function nodeWildcard(nodeId: string): string {
  return `${SUBJECT_ROOT}.${encodeNodeToken(nodeId)}.>`;
}

/** `infonet.<node>.cmd.>`, or every node's commands when nodeId is omitted. */
export function cmdWildcard(nodeId?: string, area?: string): string {
  const n = nodeId === undefined ? '*' : encodeNodeToken(nodeId);
  if (area === undefined) return `${SUBJECT_ROOT}.${n}.cmd.>`;
  assertToken('area', area);
  return `${SUBJECT_ROOT}.${n}.cmd.${area}.*`;
}

/** `infonet.<node|*>.evt.<kind|*>` */
export function evtWildcard(nodeId?: string, kind?: string): string {
  const n = nodeId === undefined ? '*' : encodeNodeToken(nodeId);
  if (kind !== undefined) assertToken('kind', kind);
  return `${SUBJECT_ROOT}.${n}.evt.${kind ?? '*'}`;
}

export type ParsedSubject =
  | { type: 'cmd'; node: string; nodeToken: string; area: string; verb: string }
  | { type: 'evt'; node: string; nodeToken: string; kind: string };

/** Parses an infonet command or event subject; null for anything else (including wildcards). */
export function parseSubject(subject: string): ParsedSubject | null {
  if (typeof subject !== 'string') return null;
  const t = subject.split('.');
  if (t[0] !== SUBJECT_ROOT) return null;
  const nodeToken = t[1] ?? '';
  const node = decodeNodeToken(nodeToken);
  if (node === null) return null;
  if (t.length === 5 && t[2] === 'cmd' && TOKEN_RE.test(t[3]) && TOKEN_RE.test(t[4])) {
    return { type: 'cmd', node, nodeToken, area: t[3], verb: t[4] };
  }
  if (t.length === 4 && t[2] === 'evt' && TOKEN_RE.test(t[3])) {
    return { type: 'evt', node, nodeToken, kind: t[3] };
  }
  return null;
}

export function parseCmdSubject(subject: string): { node: string; area: string; verb: string } | null {
  const p = parseSubject(subject);
  return p && p.type === 'cmd' ? { node: p.node, area: p.area, verb: p.verb } : null;
}

export function parseEvtSubject(subject: string): { node: string; kind: string } | null {
  const p = parseSubject(subject);
  return p && p.type === 'evt' ? { node: p.node, kind: p.kind } : null;
}

/** Replaces the node token of an infonet subject (used by replay to aim a recording at another node). */
export function withNode(subject: string, nodeId: string): string {
  const t = subject.split('.');
  if (t[0] !== SUBJECT_ROOT || t.length < 3) return subject;
  t[1] = encodeNodeToken(nodeId);
  return t.join('.');
}

/**
 * Does `subject` match the NATS pattern `pattern` ('*' = one token, '>' = one or more trailing tokens)?
 * Used to filter recordings offline.
 */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== '*' && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}
