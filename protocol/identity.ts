// Identities (§1): key algorithms, node_id derivation, node binding, strict base64.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';

export type KeyAlgo = 'Ed25519' | 'ECDSA_P256';

/** §1.1.3: parsed case-insensitively after trimming; null = unsupported. */
export function parseKeyAlgo(value: unknown): KeyAlgo | null {
  if (typeof value !== 'string') return null;
  const v = value.trim().toUpperCase();
  if (v === 'ED25519' || v === 'EDDSA') return 'Ed25519';
  if (v === 'ECDSA' || v === 'ECDSA_P256' || v === 'P-256' || v === 'P256') return 'ECDSA_P256';
  return null;
}

const B64_STRICT = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict standard base64 (§1.2.5: junk characters are an error, not skipped). */
export function decodeBase64Strict(s: string): Buffer | null {
  if (typeof s !== 'string' || !B64_STRICT.test(s)) return null;
  return Buffer.from(s, 'base64');
}

export const NODE_ID_PREFIX = '!sb_';

export function nodeIdFromPublicKeyBytes(raw: Uint8Array): string {
  return NODE_ID_PREFIX + createHash('sha256').update(raw).digest('hex').slice(0, 32);
}

// deriveNodeId is pure and runs on every append/ingest for a handful of distinct keys: remember recent
// results (bounded; cleared when full) instead of re-decoding and re-hashing the same key each time.
const derivedIds = new Map<string, string | null>();
const DERIVED_IDS_MAX = 4096;

/** §1.2.1; null when the key is not valid base64. */
export function deriveNodeId(publicKeyB64: string): string | null {
  if (typeof publicKeyB64 !== 'string') return null;
  const hit = derivedIds.get(publicKeyB64);
  if (hit !== undefined) return hit;
  const raw = decodeBase64Strict(publicKeyB64);
  const id = raw && raw.length > 0 ? nodeIdFromPublicKeyBytes(raw) : null;
  if (derivedIds.size >= DERIVED_IDS_MAX) derivedIds.clear();
  derivedIds.set(publicKeyB64, id);
  return id;
}

/** §1.2.3 node binding (legacy 16-hex ids only behind an explicit opt-in, §1.2.2). */
export function verifyNodeBinding(nodeId: string, publicKeyB64: string, allowLegacy = false): boolean {
  const derived = deriveNodeId(publicKeyB64);
  if (!derived) return false;
  if (nodeId === derived) return true;
  return allowLegacy && nodeId === derived.slice(0, NODE_ID_PREFIX.length + 16);
}

// ---- Ed25519 key material (raw 32-byte keys <-> node:crypto KeyObjects, toolchain-notes "Crypto") ----

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export function ed25519PrivateKeyFromSeed(seed: Uint8Array): KeyObject {
  if (seed.length !== 32) throw new RangeError('Ed25519 seed must be 32 bytes');
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

export function ed25519PublicKeyFromRaw(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
}

export function rawEd25519PublicKey(pub: KeyObject): Buffer {
  return pub.export({ format: 'der', type: 'spki' }).subarray(SPKI_ED25519_PREFIX.length);
}

export interface Identity {
  seed: Buffer;
  privateKey: KeyObject;
  publicKeyRaw: Buffer;
  /** base64 of the raw public key, as it appears in events. */
  publicKey: string;
  publicKeyAlgo: 'Ed25519';
  nodeId: string;
}

export function identityFromSeed(seed: Uint8Array): Identity {
  const privateKey = ed25519PrivateKeyFromSeed(seed);
  const publicKeyRaw = rawEd25519PublicKey(createPublicKey(privateKey));
  return {
    seed: Buffer.from(seed),
    privateKey,
    publicKeyRaw,
    publicKey: publicKeyRaw.toString('base64'),
    publicKeyAlgo: 'Ed25519',
    nodeId: nodeIdFromPublicKeyBytes(publicKeyRaw),
  };
}

export function generateIdentity(): Identity {
  const { privateKey } = generateKeyPairSync('ed25519');
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  return identityFromSeed(der.subarray(PKCS8_ED25519_PREFIX.length));
}

/** The key file written by `infonet keygen`. */
export interface KeyFile {
  seed: string;
  public_key: string;
  public_key_algo: 'Ed25519';
  node_id: string;
}

export const identityToKeyFile = (id: Identity): KeyFile => ({
  seed: id.seed.toString('hex'),
  public_key: id.publicKey,
  public_key_algo: 'Ed25519',
  node_id: id.nodeId,
});

export function identityFromKeyFile(data: unknown): Identity {
  const seedHex = (data as { seed?: unknown } | null)?.seed;
  if (typeof seedHex !== 'string' || !/^[0-9a-fA-F]{64}$/.test(seedHex)) {
    throw new TypeError('key file must contain "seed": 64 hex characters');
  }
  const id = identityFromSeed(Buffer.from(seedHex, 'hex'));
  const claimed = (data as { public_key?: unknown }).public_key;
  if (claimed !== undefined && claimed !== id.publicKey) throw new TypeError('key file public_key does not match its seed');
  return id;
}
