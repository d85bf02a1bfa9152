// Sealing an MLS Welcome to a recipient's X25519 `welcome_dh_pub` (spec §11.7, the fallback construction):
// ephemeral X25519 public key (32) ‖ 12-byte nonce ‖ AES-256-GCM(ciphertext ‖ tag), key = HKDF-SHA256(shared
// secret, salt = empty, info = "shadowbroker|dm-mls-welcome|v1"), AAD = the same label. Pure (node:crypto only).
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { ErrorCodes, InfonetError } from './errors.js';

export const WELCOME_LABEL = 'shadowbroker|dm-mls-welcome|v1';
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
/** Welcomes are bounded: a 50-member tree fits well below this. */
export const WELCOME_MAX_BYTES = 256 * 1024;

export interface WelcomeKeypair {
  /** X25519 public key, hex (the §11.7 `welcome_dh_pub`). */
  publicHex: string;
  /** X25519 private key, hex. Stays in the node. */
  privateHex: string;
}

const bad = (reason: string): never => {
  throw new InfonetError(ErrorCodes.BAD_INPUT, reason);
};

function publicKeyFromHex(hex: string): KeyObject {
  const raw = /^[0-9a-f]{64}$/i.test(String(hex ?? '').trim()) ? Buffer.from(hex.trim(), 'hex') : bad('welcome_dh_pub must be 32 bytes of hex');
  return createPublicKey({ key: Buffer.concat([SPKI_X25519, raw]), format: 'der', type: 'spki' });
}

const privateKeyFromHex = (hex: string): KeyObject =>
  createPrivateKey({ key: Buffer.concat([PKCS8_X25519, Buffer.from(hex, 'hex')]), format: 'der', type: 'pkcs8' });

const rawPublic = (k: KeyObject): Buffer => k.export({ format: 'der', type: 'spki' }).subarray(SPKI_X25519.length);

export function generateWelcomeKeypair(): WelcomeKeypair {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  return {
    publicHex: rawPublic(publicKey).toString('hex'),
    privateHex: privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_X25519.length).toString('hex'),
  };
}

const deriveKey = (shared: Buffer): Buffer => Buffer.from(hkdfSync('sha256', shared, Buffer.alloc(0), WELCOME_LABEL, 32));

export function sealWelcome(welcome: Uint8Array, welcomeDhPubHex: string): Uint8Array {
  if (welcome.length > WELCOME_MAX_BYTES) bad('Welcome too large');
  const recipient = publicKeyFromHex(welcomeDhPubHex);
  const eph = generateKeyPairSync('x25519');
  const key = deriveKey(diffieHellman({ privateKey: eph.privateKey, publicKey: recipient }));
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(Buffer.from(WELCOME_LABEL));
  const body = Buffer.concat([c.update(welcome), c.final(), c.getAuthTag()]);
  return Buffer.concat([rawPublic(eph.publicKey), nonce, body]);
}

/** Opens a sealed Welcome; a typed error when it is not for this key or was altered. */
export function unsealWelcome(sealed: Uint8Array, welcomeDhPrivHex: string): Uint8Array {
  if (sealed.length < 32 + 12 + 16 || sealed.length > WELCOME_MAX_BYTES + 60) bad('sealed Welcome has a bad size');
  const eph = publicKeyFromHex(Buffer.from(sealed.subarray(0, 32)).toString('hex'));
  const key = deriveKey(diffieHellman({ privateKey: privateKeyFromHex(welcomeDhPrivHex), publicKey: eph }));
  const d = createDecipheriv('aes-256-gcm', key, sealed.subarray(32, 44));
  d.setAAD(Buffer.from(WELCOME_LABEL));
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  try {
    return Buffer.concat([d.update(sealed.subarray(44, sealed.length - 16)), d.final()]);
  } catch {
    return bad('cannot open sealed Welcome: wrong key or tampered');
  }
}
