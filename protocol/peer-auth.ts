// Peer request authentication: per-URL HMAC keys, request signing and verification (spec §8.2).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ErrorCodes, InfonetError } from './errors.js';
import { normalizePeerUrl } from './peer-url.js';
import type { PeerSettings } from './settings.js';

export type PeerSecretSettings = Pick<PeerSettings, 'pushSecret' | 'peerSecrets'>;

export const PEER_AUTH_FAILED = 'Invalid or missing peer HMAC';

const KEY_SALT = 'sb-peer-auth-v1';

const bytesOf = (body: Uint8Array | string): Uint8Array => (typeof body === 'string' ? Buffer.from(body, 'utf8') : body);

/**
 * Derived keys by secret and URL: every signed or verified peer request needs one, and deriving costs two HMACs
 * (a measurable share of a replicated DM, issue 14). Bounded: verification derives only for allowlisted URLs, and
 * the cache is emptied when it reaches KEY_CACHE_MAX entries anyway. Keys never leave this module's callers.
 */
const KEY_CACHE_MAX = 256;
const keyCache = new Map<string, Buffer>();

/** One-block HKDF-SHA256 (§8.2.2): PRK = HMAC(salt, secret); K = HMAC(PRK, url ‖ 0x01). `url` must be normalised. */
export function derivePeerKey(secret: string, normalizedUrl: string): Buffer {
  const id = `${secret}\u0000${normalizedUrl}`;
  const hit = keyCache.get(id);
  if (hit) return Buffer.from(hit);
  const prk = createHmac('sha256', KEY_SALT).update(secret, 'utf8').digest();
  const key = createHmac('sha256', prk).update(normalizedUrl, 'utf8').update(Buffer.from([1])).digest();
  if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear();
  keyCache.set(id, Buffer.from(key));
  return key;
}

/** Lower-case hex HMAC-SHA256 over the exact body bytes (§8.2.3). */
export function peerMac(key: Uint8Array, body: Uint8Array | string): string {
  return createHmac('sha256', key).update(bytesOf(body)).digest('hex');
}

/** MESH_PEER_SECRETS (`url=secret,…`) as normalised URL → secret; malformed or empty halves skipped. */
export function parsePeerSecrets(csv: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of csv.split(',')) {
    const eq = item.indexOf('=');
    if (eq < 0) continue;
    const url = normalizePeerUrl(item.slice(0, eq));
    const secret = item.slice(eq + 1).trim();
    if (url && secret) out.set(url, secret);
  }
  return out;
}

/** parsePeerSecrets of the last setting seen (settings do not change while a node runs; every request asks). */
let lastSecrets: { csv: string; map: Map<string, string> } = { csv: '', map: new Map() };
function peerSecretsOf(csv: string): Map<string, string> {
  if (lastSecrets.csv !== csv) lastSecrets = { csv, map: parsePeerSecrets(csv) };
  return lastSecrets.map;
}

/**
 * The secret for a peer (§8.2.1): its MESH_PEER_SECRETS entry if any (the global secret is then ignored
 * for it), else MESH_PEER_PUSH_SECRET, else ''. There is deliberately no built-in fleet secret: a
 * shared secret in the source would authenticate anyone who has read it.
 */
export function resolvePeerSecret(url: string, settings: PeerSecretSettings): string {
  const normalized = normalizePeerUrl(url);
  if (!normalized) return '';
  const perPeer = peerSecretsOf(settings.peerSecrets ?? '').get(normalized);
  if (perPeer !== undefined) return perPeer;
  return (settings.pushSecret ?? '').trim();
}

export interface PeerAuthHeaders {
  'X-Peer-Url': string;
  'X-Peer-HMAC': string;
}

/**
 * Headers authenticating `body` as sent by this node (§8.2.4–5: the sender's own URL is both the header
 * value and the key-derivation input). Throws PEER_AUTH when no secret is configured, so an
 * unconfigured node fails loudly instead of sending requests every receiver will reject.
 */
export function signPeerRequest(selfUrl: string, body: Uint8Array | string, settings: PeerSecretSettings): PeerAuthHeaders {
  const url = normalizePeerUrl(selfUrl);
  if (!url) {
    throw new InfonetError(ErrorCodes.PEER_AUTH, 'Cannot sign peer request: this node has no peer URL; set MESH_PUBLIC_PEER_URL', {
      missing: 'self_url',
    });
  }
  const secret = resolvePeerSecret(url, settings);
  if (!secret) {
    throw new InfonetError(
      ErrorCodes.PEER_AUTH,
      `Cannot sign peer request: no peer HMAC secret configured for ${url}; set MESH_PEER_PUSH_SECRET or MESH_PEER_SECRETS`,
      { missing: 'secret', peer_url: url },
    );
  }
  return { 'X-Peer-Url': url, 'X-Peer-HMAC': peerMac(derivePeerKey(secret, url), body) };
}

type HeaderValue = string | readonly string[] | undefined;

export interface VerifyPeerRequestInput {
  headerUrl: HeaderValue;
  headerMac: HeaderValue;
  body: Uint8Array | string;
  /** Push peers allowed to authenticate (normalised here, so raw config values are fine). */
  allowlist: Iterable<string>;
  settings: PeerSecretSettings;
}

export type PeerAuthResult = { ok: true; peerUrl: string } | { ok: false; error: InfonetError };

const fail = (): PeerAuthResult => ({ ok: false, error: new InfonetError(ErrorCodes.PEER_AUTH, PEER_AUTH_FAILED) });

/**
 * Receiver-side check (§8.2.6): MAC present and well-formed, header URL normalises into the allowlist,
 * a secret resolves for it, and the MAC matches in constant time. Every failure gives the same answer
 * so a prober learns nothing about which step failed.
 */
export function verifyPeerRequest({ headerUrl, headerMac, body, allowlist, settings }: VerifyPeerRequestInput): PeerAuthResult {
  if (typeof headerUrl !== 'string' || typeof headerMac !== 'string') return fail();
  const mac = headerMac.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(mac)) return fail();

  const url = normalizePeerUrl(headerUrl);
  if (!url) return fail();
  let allowed = false;
  for (const entry of allowlist) if (normalizePeerUrl(entry) === url) allowed = true;
  if (!allowed) return fail();

  const secret = resolvePeerSecret(url, settings);
  if (!secret) return fail();
  const expected = Buffer.from(peerMac(derivePeerKey(secret, url), body), 'hex');
  const given = Buffer.from(mac, 'hex');
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return fail();
  return { ok: true, peerUrl: url };
}
