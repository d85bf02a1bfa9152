// The node's onion service key and address (rend-spec-v3 §6 "Encoding onion addresses").
//
// We generate the Ed25519 key ourselves instead of asking tor for `NEW:ED25519-V3`: the address is then known
// before tor runs (the node can sign as `http://<onion>.onion` from its first request), and it never changes
// after a restart because the seed is kept in the data directory (mode 600, never logged).
// Tor's ADD_ONION takes the *expanded* secret key (SHA-512 of the seed, clamped: the ref10 form), base64.
import { createHash, createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ErrorCodes, InfonetError } from '../../protocol/errors.js';

const B32 = 'abcdefghijklmnopqrstuvwxyz234567';

function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

function base32Decode(s: string): Buffer | null {
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of s) {
    const v = B32.indexOf(ch);
    if (v < 0) return null;
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

const checksum = (pub: Uint8Array): Buffer =>
  createHash('sha3-256').update('.onion checksum').update(pub).update(Buffer.from([3])).digest().subarray(0, 2);

/** `<56 base32 chars>` (no `.onion`) of a v3 service public key. */
export function onionServiceId(publicKey: Uint8Array): string {
  if (publicKey.length !== 32) throw new InfonetError(ErrorCodes.BAD_INPUT, 'onion public key must be 32 bytes');
  return base32(Buffer.concat([publicKey, checksum(publicKey), Buffer.from([3])]));
}

/** True for a well-formed v3 service id (56 chars, version 3, checksum matches). */
export function isOnionV3ServiceId(id: string): boolean {
  if (!/^[a-z2-7]{56}$/.test(id)) return false;
  const raw = base32Decode(id);
  if (!raw || raw.length !== 35 || raw[34] !== 3) return false;
  return checksum(raw.subarray(0, 32)).equals(raw.subarray(32, 34));
}

export interface OnionKey {
  /** 56-char service id. */
  serviceId: string;
  /** `http://<id>.onion` */
  url: string;
  /** `ED25519-V3:<base64 of the 64-byte expanded secret key>` for ADD_ONION. Secret: never log. */
  torKeyBlob: string;
}

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export function onionKeyFromSeed(seed: Uint8Array): OnionKey {
  if (seed.length !== 32) throw new InfonetError(ErrorCodes.BAD_INPUT, 'onion key seed must be 32 bytes');
  const priv = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const pub = createPublicKey(priv).export({ format: 'der', type: 'spki' }).subarray(-32);
  const h = createHash('sha512').update(seed).digest();
  h[0] &= 248;
  h[31] &= 127;
  h[31] |= 64;
  const serviceId = onionServiceId(pub);
  return { serviceId, url: `http://${serviceId}.onion`, torKeyBlob: `ED25519-V3:${h.toString('base64')}` };
}

interface OnionKeyFile {
  version: 1;
  /** hex */
  seed: string;
  service_id: string;
}

/** Loads `file` (the seed, mode 600) or creates it atomically; the same file always gives the same address. */
export function loadOrCreateOnionKey(file: string): OnionKey {
  if (existsSync(file)) {
    let parsed: OnionKeyFile;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8')) as OnionKeyFile;
    } catch (e) {
      throw new InfonetError(ErrorCodes.STORE_CORRUPT, `onion key file ${file} is unreadable: ${(e as Error).message}`);
    }
    if (typeof parsed.seed !== 'string' || !/^[0-9a-f]{64}$/.test(parsed.seed)) {
      throw new InfonetError(ErrorCodes.STORE_CORRUPT, `onion key file ${file} has no valid seed`);
    }
    const key = onionKeyFromSeed(Buffer.from(parsed.seed, 'hex'));
    if (parsed.service_id && parsed.service_id !== key.serviceId) {
      throw new InfonetError(ErrorCodes.STORE_CORRUPT, `onion key file ${file}: seed does not match service id ${parsed.service_id}`);
    }
    return key;
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const seed = randomBytes(32);
  const key = onionKeyFromSeed(seed);
  const body: OnionKeyFile = { version: 1, seed: seed.toString('hex'), service_id: key.serviceId };
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(body, null, 2) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return key;
}
