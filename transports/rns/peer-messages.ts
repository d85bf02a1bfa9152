// Peer request/response messages carried over RNS (inside §14 chunking). SINGLE packets carry no sender, so a request
// names the destination to answer (`from`); the §8 HMAC headers inside authenticate it, and the listener requires
// X-Peer-Url to be exactly `rns://<from>` so nobody can aim another peer's answers at a third party. A response is
// matched by its 16-byte random request id, which only the two ends ever see in clear.
//
//   message  = kind[1] ‖ request_id[16] ‖ header_len[2] ‖ header JSON ‖ body
//   request  header = {"from": "<32 hex>", "method": "POST", "path": "/api/mesh/…", "headers": {…}}
//   response header = {"status": 200, "retry_after"?: "<Retry-After header value>"}
export const KIND_REQUEST = 0x01;
export const KIND_RESPONSE = 0x02;
const FIXED = 1 + 16 + 2;
const MAX_HEADER = 8 * 1024;

export interface RnsPeerRequestMessage {
  kind: typeof KIND_REQUEST;
  id: Buffer;
  from: string;
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

export interface RnsPeerResponseMessage {
  kind: typeof KIND_RESPONSE;
  id: Buffer;
  status: number;
  retryAfter?: string;
  body: Buffer;
}

export type RnsPeerMessage = RnsPeerRequestMessage | RnsPeerResponseMessage;

export function encodePeerMessage(m: RnsPeerMessage): Buffer {
  const header =
    m.kind === KIND_REQUEST
      ? { from: m.from, method: m.method, path: m.path, headers: m.headers }
      : { status: m.status, ...(m.retryAfter !== undefined ? { retry_after: m.retryAfter } : {}) };
  const h = Buffer.from(JSON.stringify(header), 'utf8');
  if (h.length > MAX_HEADER) throw new RangeError('rns peer message header too large');
  const fixed = Buffer.alloc(FIXED);
  fixed[0] = m.kind;
  m.id.copy(fixed, 1, 0, 16);
  fixed.writeUInt16BE(h.length, 17);
  return Buffer.concat([fixed, h, m.body]);
}

const isStringRecord = (v: unknown): v is Record<string, string> =>
  !!v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');

/** null for anything malformed (the listener drops it; there is nobody trustworthy to answer). */
export function decodePeerMessage(b: Buffer): RnsPeerMessage | null {
  if (b.length < FIXED) return null;
  const kind = b[0];
  const id = Buffer.from(b.subarray(1, 17));
  const hlen = b.readUInt16BE(17);
  if (hlen > MAX_HEADER || b.length < FIXED + hlen) return null;
  let header: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(b.subarray(FIXED, FIXED + hlen).toString('utf8'));
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
    header = parsed as Record<string, unknown>;
  } catch {
    return null;
  }
  const body = Buffer.from(b.subarray(FIXED + hlen));
  if (kind === KIND_REQUEST) {
    const { from, method, path, headers } = header;
    if (typeof from !== 'string' || !/^[0-9a-f]{32}$/.test(from)) return null;
    if (method !== 'GET' && method !== 'POST') return null;
    if (typeof path !== 'string' || path.length > 256 || !isStringRecord(headers)) return null;
    return { kind, id, from, method, path, headers, body };
  }
  if (kind === KIND_RESPONSE) {
    const { status, retry_after } = header;
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) return null;
    if (retry_after !== undefined && typeof retry_after !== 'string') return null;
    return { kind, id, status, ...(retry_after !== undefined ? { retryAfter: retry_after } : {}), body };
  }
  return null;
}
