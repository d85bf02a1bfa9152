// Reticulum identities (rns-wire.md §5): private = X25519 private ‖ Ed25519 seed (the reference file format),
// public = X25519 public ‖ Ed25519 public, identity_hash = H16(public). KeyObjects are built once per identity.
import { createHash, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';

const X25519_PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const ED25519_PKCS8 = Buffer.from('302e020100300506032b657004220420', 'hex');

// Raw public keys are imported as JWK: OpenSSL's DER path costs ~0.5 ms per public and ~3 ms per private key here,
// JWK ~0.08 ms — it is paid per packet (ephemeral keys, proof checks). Peer keys are also cached (bounded).
export const x25519PrivateKey = (raw: Uint8Array): KeyObject => createPrivateKey({ key: Buffer.concat([X25519_PKCS8, raw]), format: 'der', type: 'pkcs8' });
const importRawPublic = (crv: 'X25519' | 'Ed25519', raw: Uint8Array): KeyObject =>
  createPublicKey({ key: { kty: 'OKP', crv, x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });
const PUBLIC_KEY_CACHE_MAX = 1024;
const publicKeyCache = new Map<string, KeyObject>();
function cachedPublic(crv: 'X25519' | 'Ed25519', raw: Uint8Array): KeyObject {
  const k = crv + Buffer.from(raw).toString('hex');
  let key = publicKeyCache.get(k);
  if (!key) {
    key = importRawPublic(crv, raw);
    publicKeyCache.set(k, key);
    if (publicKeyCache.size > PUBLIC_KEY_CACHE_MAX) publicKeyCache.delete(publicKeyCache.keys().next().value as string);
  }
  return key;
}
/** Peer (cached) X25519 public key; use importRawPublic for one-off keys such as ephemeral ones. */
export const x25519PublicKey = (raw: Uint8Array): KeyObject => cachedPublic('X25519', raw);
export const ed25519PublicKey = (raw: Uint8Array): KeyObject => cachedPublic('Ed25519', raw);
export const rawPublic = (k: KeyObject): Buffer => Buffer.from((k.export({ format: 'jwk' }) as { x: string }).x, 'base64url');

/** A fresh X25519 pair as raw bytes (ratchets, identities). */
export function x25519Pair(): { priv: Buffer; pub: Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  return { priv: (privateKey.export({ type: 'pkcs8', format: 'der' }) as Buffer).subarray(-32), pub: rawPublic(publicKey) };
}

/** A fresh ephemeral X25519 pair, kept as a KeyObject (no export/import round trip per packet). */
export function ephemeralX25519(): { privateKey: KeyObject; pub: Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  return { privateKey, pub: rawPublic(publicKey) };
}

/** X25519 with a peer's raw public key; `cache` false for keys seen once (a packet's ephemeral key). */
export const x25519 = (priv: KeyObject, pubRaw: Uint8Array, cache = true): Buffer =>
  diffieHellman({ privateKey: priv, publicKey: cache ? x25519PublicKey(pubRaw) : importRawPublic('X25519', pubRaw) });

/** Ed25519 verify of a 64-byte public key's signing half; false (never a throw) on malformed input. */
export function verifyWithPublicKey(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 64 || signature.length !== 64) return false;
  try {
    return verify(null, message, ed25519PublicKey(publicKey.subarray(32, 64)), signature);
  } catch {
    return false;
  }
}

export class RnsIdentity {
  readonly publicKey: Buffer;
  readonly hash: Buffer;
  readonly encryptionKey: KeyObject;
  private readonly signingKey: KeyObject;

  private constructor(readonly privateKey: Buffer) {
    this.encryptionKey = x25519PrivateKey(privateKey.subarray(0, 32));
    this.signingKey = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8, privateKey.subarray(32, 64)]), format: 'der', type: 'pkcs8' });
    this.publicKey = Buffer.concat([rawPublic(createPublicKey(this.encryptionKey)), rawPublic(createPublicKey(this.signingKey))]);
    this.hash = identityHash(this.publicKey);
  }

  /** From the 64-byte identity file format. X25519 bytes are kept exactly as given (Node clamps internally). */
  static fromPrivateKey(bytes: Uint8Array): RnsIdentity {
    if (bytes.length !== 64) throw new RangeError('an RNS private key is 64 bytes');
    return new RnsIdentity(Buffer.from(bytes));
  }

  static generate(): RnsIdentity {
    return new RnsIdentity(Buffer.concat([x25519Pair().priv, randomBytes(32)]));
  }

  sign(message: Uint8Array): Buffer {
    return sign(null, message, this.signingKey);
  }
}

export const identityHash = (publicKey: Uint8Array): Buffer => createHash('sha256').update(publicKey).digest().subarray(0, 16);
