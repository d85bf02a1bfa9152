// SINGLE packet encryption (rns-wire.md §9): ephemeral X25519 to the recipient's latest ratchet (else identity)
// key, HKDF-SHA256 salted with the recipient's IDENTITY hash, AES-256-CBC + HMAC-SHA256 (Fernet without version
// and timestamp). A fresh ephemeral key and IV per packet make every retransmission a new packet hash (§4).
import { createCipheriv, createDecipheriv, createHmac, createPublicKey, hkdfSync, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { ephemeralX25519, rawPublic, x25519, x25519PrivateKey } from './identity.js';

export interface EncryptOptions {
  /** Test vectors only: fixed ephemeral private key and IV. */
  ephemeralPrivate?: Uint8Array;
  iv?: Uint8Array;
}

export function deriveTokenKey(shared: Uint8Array, identityHash: Uint8Array): { signingKey: Buffer; encryptionKey: Buffer } {
  const key = Buffer.from(hkdfSync('sha256', shared, identityHash, Buffer.alloc(0), 64));
  return { signingKey: key.subarray(0, 32), encryptionKey: key.subarray(32, 64) };
}

/** `eph_pub[32] ‖ IV[16] ‖ AES-CBC(PKCS#7(plaintext)) ‖ HMAC[32]`. */
export function encryptSingle(plaintext: Uint8Array, targetPublic: Uint8Array, recipientIdentityHash: Uint8Array, opts: EncryptOptions = {}): Buffer {
  let ephPriv: KeyObject;
  let ephPub: Buffer;
  if (opts.ephemeralPrivate) {
    ephPriv = x25519PrivateKey(opts.ephemeralPrivate);
    ephPub = rawPublic(createPublicKey(ephPriv));
  } else {
    const pair = ephemeralX25519();
    ephPriv = pair.privateKey;
    ephPub = pair.pub;
  }
  const { signingKey, encryptionKey } = deriveTokenKey(x25519(ephPriv, targetPublic), recipientIdentityHash);
  const iv = Buffer.from(opts.iv ?? randomBytes(16));
  const c = createCipheriv('aes-256-cbc', encryptionKey, iv);
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  const mac = createHmac('sha256', signingKey).update(iv).update(ct).digest();
  return Buffer.concat([ephPub, iv, ct, mac]);
}

/**
 * Try each candidate X25519 private key (ratchets newest first, then the identity key); the HMAC is checked in
 * constant time before anything is decrypted. null when no candidate opens it (the packet is dropped unproven).
 */
export function decryptSingle(data: Uint8Array, candidates: readonly KeyObject[], recipientIdentityHash: Uint8Array): Buffer | null {
  // eph 32 + IV 16 + at least one AES block + HMAC 32
  if (data.length < 32 + 16 + 16 + 32 || (data.length - 80) % 16 !== 0) return null;
  const buf = Buffer.from(data);
  const ephPub = buf.subarray(0, 32);
  const iv = buf.subarray(32, 48);
  const ct = buf.subarray(48, buf.length - 32);
  const mac = buf.subarray(buf.length - 32);
  for (const priv of candidates) {
    let keys;
    try {
      keys = deriveTokenKey(x25519(priv, ephPub, false), recipientIdentityHash);
    } catch {
      return null; // a low-order ephemeral key: no shared secret
    }
    const want = createHmac('sha256', keys.signingKey).update(iv).update(ct).digest();
    if (!timingSafeEqual(want, mac)) continue;
    try {
      const d = createDecipheriv('aes-256-cbc', keys.encryptionKey, iv);
      return Buffer.concat([d.update(ct), d.final()]);
    } catch {
      return null;
    }
  }
  return null;
}
