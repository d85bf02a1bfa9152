// Client-side DM sealing (tweetnacl box, X25519 + XSalsa20-Poly1305). The output is self-contained:
// an ephemeral sender key per message, so only the recipient's public key is needed to seal, and only
// the recipient's secret key opens it. Wire form: "sealed:" + base64(version ‖ ephemeral pub ‖ nonce ‖
// box) — the "sealed:" prefix is one the §5.4 sealed-bytes check accepts, and the body is ≥ 8 bytes.
import nacl from 'tweetnacl';

export const SEAL_PREFIX = 'sealed:';
export const SEAL_VERSION = 1;
const PUB = nacl.box.publicKeyLength; // 32
const NONCE = nacl.box.nonceLength; // 24

export interface DmKeypair {
  /** X25519 public key, standard base64. Share this with senders. */
  public_key: string;
  /** X25519 secret key, standard base64. Never leaves the client. */
  secret_key: string;
}

const b64 = (u: Uint8Array): string => Buffer.from(u).toString('base64');

function decodeKey(value: string, what: string): Uint8Array {
  const raw = Buffer.from(String(value ?? '').trim(), 'base64');
  if (raw.length !== PUB) throw new Error(`${what} must be 32 bytes of base64`);
  return new Uint8Array(raw);
}

export function generateDmKeypair(): DmKeypair {
  const kp = nacl.box.keyPair();
  return { public_key: b64(kp.publicKey), secret_key: b64(kp.secretKey) };
}

export function sealDm(plaintext: string | Uint8Array, recipientPublicKeyB64: string): string {
  const recipient = decodeKey(recipientPublicKeyB64, 'recipient public key');
  const msg = typeof plaintext === 'string' ? new TextEncoder().encode(plaintext) : plaintext;
  const eph = nacl.box.keyPair();
  const nonce = nacl.randomBytes(NONCE);
  const box = nacl.box(msg, nonce, recipient, eph.secretKey);
  const out = new Uint8Array(1 + PUB + NONCE + box.length);
  out[0] = SEAL_VERSION;
  out.set(eph.publicKey, 1);
  out.set(nonce, 1 + PUB);
  out.set(box, 1 + PUB + NONCE);
  return SEAL_PREFIX + b64(out);
}

/** Opens a sealed DM; throws when the value is not ours, malformed, or tampered with. */
export function openDmBytes(sealed: string, secretKeyB64: string): Uint8Array {
  const v = String(sealed ?? '').trim();
  if (v.slice(0, SEAL_PREFIX.length).toLowerCase() !== SEAL_PREFIX) throw new Error('not a sealed DM (missing "sealed:" prefix)');
  const raw = new Uint8Array(Buffer.from(v.slice(SEAL_PREFIX.length), 'base64'));
  if (raw.length < 1 + PUB + NONCE + nacl.box.overheadLength || raw[0] !== SEAL_VERSION) throw new Error('unsupported sealed DM format');
  const opened = nacl.box.open(raw.subarray(1 + PUB + NONCE), raw.subarray(1 + PUB, 1 + PUB + NONCE), raw.subarray(1, 1 + PUB), decodeKey(secretKeyB64, 'secret key'));
  if (!opened) throw new Error('cannot open DM: wrong key or tampered ciphertext');
  return opened;
}

export const openDm = (sealed: string, secretKeyB64: string): string => new TextDecoder('utf-8', { fatal: false }).decode(openDmBytes(sealed, secretKeyB64));
