// Reticulum identities (rns-wire.md §5): private = X25519 private ‖ Ed25519 seed (the reference file format),
// public = X25519 public ‖ Ed25519 public, identity_hash = H16(public). KeyObjects are built once per identity.
import { createHash, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';

const X25519_PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const X25519_SPKI = Buffer.from('302a300506032b656e032100', 'hex');
const ED25519_PKCS8 = Buffer.from('302e020100300506032b657004220420', 'hex');
const ED25519_SPKI = Buffer.from('302a300506032b6570032100', 'hex');

export const x25519PrivateKey = (raw: Uint8Array): KeyObject => createPrivateKey({ key: Buffer.concat([X25519_PKCS8, raw]), format: 'der', type: 'pkcs8' });
export const x25519PublicKey = (raw: Uint8Array): KeyObject => createPublicKey({ key: Buffer.concat([X25519_SPKI, raw]), format: 'der', type: 'spki' });
export const ed25519PublicKey = (raw: Uint8Array): KeyObject => createPublicKey({ key: Buffer.concat([ED25519_SPKI, raw]), format: 'der', type: 'spki' });
export const rawPublic = (k: KeyObject): Buffer => (k.export({ type: 'spki', format: 'der' }) as Buffer).subarray(-32);

/** A fresh X25519 pair as raw bytes (ephemeral keys, ratchets). */
export function x25519Pair(): { priv: Buffer; pub: Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  return { priv: (privateKey.export({ type: 'pkcs8', format: 'der' }) as Buffer).subarray(-32), pub: rawPublic(publicKey) };
}

export const x25519 = (priv: KeyObject, pubRaw: Uint8Array): Buffer => diffieHellman({ privateKey: priv, publicKey: x25519PublicKey(pubRaw) });

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
