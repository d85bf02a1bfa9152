// Sender proof for relay deposits and replica envelopes (tightening of §7.8, see
// docs/mailbox-sender-cap.md). The sender signs a canonical string that binds the mailbox target, the
// msg_id and the ciphertext; a relay can forward the proof but cannot alter any bound field nor make a
// proof for a key it does not hold. The per-sender cap is keyed on the verified key's node id.
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { sha256Hex } from './mailbox-keys.js';
import { nodeIdFromPublicKeyBytes } from './identity.js';

export const PROOF_DOMAIN = 'infonet-dm-envelope/1';

export interface SenderProof {
  /** Ed25519 raw public key, standard base64 (§1.1). */
  public_key: string;
  /** Ed25519 signature over proofString(...), lowercase hex. */
  signature: string;
}

export interface ProofTarget {
  delivery_class: string;
  recipient_id?: string;
  recipient_token?: string;
  /** Shared mail without a token in hand: the shared mailbox key, which is SHA-256(token) already. */
  shared_key?: string;
  msg_id: string;
  ciphertext: string;
}

/**
 * Request mail is scoped by recipient id; shared mail by SHA-256(token) (= the network-wide shared
 * mailbox key), so a proof never carries the token and cannot be moved to another mailbox.
 */
export function proofString(t: ProofTarget): string {
  const cls = t.delivery_class.trim().toLowerCase();
  const token = (t.recipient_token ?? '').trim();
  const scope = cls === 'shared' ? (token ? sha256Hex(token) : (t.shared_key ?? '')) : (t.recipient_id ?? '').trim();
  return `${PROOF_DOMAIN}|${cls}|${scope}|${t.msg_id}|${sha256Hex(t.ciphertext)}`;
}

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** §1.2: "!sb_" + first 32 hex of SHA-256(raw public key). */
export const nodeIdFromPublicKey = nodeIdFromPublicKeyBytes;

const keyCache = new Map<string, KeyObject>();

function publicKeyObject(b64: string): { key: KeyObject; raw: Buffer } | null {
  if (typeof b64 !== 'string' || !/^[A-Za-z0-9+/]{43}=$/.test(b64)) return null;
  const raw = Buffer.from(b64, 'base64');
  if (raw.length !== 32) return null;
  let key = keyCache.get(b64);
  if (!key) {
    try {
      key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
    } catch {
      return null;
    }
    if (keyCache.size > 4096) keyCache.clear();
    keyCache.set(b64, key);
  }
  return { key, raw };
}

/** Returns the sender's node id when the proof is valid for `target`, else null (never throws). */
export function verifySenderProof(proof: unknown, target: ProofTarget): string | null {
  if (!proof || typeof proof !== 'object') return null;
  const { public_key, signature } = proof as Record<string, unknown>;
  if (typeof public_key !== 'string' || typeof signature !== 'string' || !/^[0-9a-f]{128}$/.test(signature)) return null;
  const pk = publicKeyObject(public_key);
  if (!pk) return null;
  try {
    const ok = verify(null, Buffer.from(proofString(target), 'utf8'), pk.key, Buffer.from(signature, 'hex'));
    return ok ? nodeIdFromPublicKey(pk.raw) : null;
  } catch {
    return null;
  }
}

/** Signs a deposit with a 32-byte Ed25519 seed (client side). */
export function makeSenderProof(seed: Uint8Array, target: ProofTarget): SenderProof {
  const priv = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, Buffer.from(seed)]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(priv).export({ format: 'der', type: 'spki' });
  const raw = spki.subarray(spki.length - 32);
  const signature = sign(null, Buffer.from(proofString(target), 'utf8'), priv).toString('hex');
  return { public_key: raw.toString('base64'), signature };
}
