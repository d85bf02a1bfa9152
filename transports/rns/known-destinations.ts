// What announces taught us about other destinations (rns-wire.md §7, §10): the pinned public key (a different
// key for a known hash is a collision or a takeover attempt and is refused), the app_data and the latest ratchet
// key with its receipt time. Ratchets must survive restarts (§10 duty 3), so the table serialises to JSON.
import { RATCHET_EXPIRY_MS } from './constants.js';

export interface KnownDestination {
  publicKey: Buffer;
  appData: Buffer | null;
  ratchet: { publicKey: Buffer; receivedAtMs: number } | null;
}

interface KnownJson {
  [destHex: string]: { k: string; a: string | null; r: string | null; t: number };
}

export class KnownDestinations {
  private readonly byHash = new Map<string, KnownDestination>();

  constructor(private readonly capacity = 4_096) {}

  get(destinationHash: Buffer): KnownDestination | undefined {
    return this.byHash.get(destinationHash.toString('hex'));
  }

  /** §7 check 4: false when another public key is already stored for this hash. */
  keyMatches(destinationHash: Buffer, publicKey: Buffer): boolean {
    const k = this.get(destinationHash);
    return !k || k.publicKey.equals(publicKey);
  }

  remember(destinationHash: Buffer, publicKey: Buffer, appData: Buffer | null, ratchet: Buffer | null, nowMs: number): void {
    const key = destinationHash.toString('hex');
    const old = this.byHash.get(key);
    this.byHash.delete(key);
    this.byHash.set(key, {
      publicKey: Buffer.from(publicKey),
      appData: appData ? Buffer.from(appData) : null,
      ratchet: ratchet ? { publicKey: Buffer.from(ratchet), receivedAtMs: nowMs } : (old?.ratchet ?? null),
    });
    if (this.byHash.size > this.capacity) this.byHash.delete(this.byHash.keys().next().value as string);
  }

  /** The key to encrypt to: the latest ratchet younger than 30 days, else the identity X25519 key (§9, §10). */
  encryptionTarget(destinationHash: Buffer, nowMs: number): Buffer | null {
    const k = this.get(destinationHash);
    if (!k) return null;
    if (k.ratchet && nowMs - k.ratchet.receivedAtMs < RATCHET_EXPIRY_MS) return k.ratchet.publicKey;
    return k.publicKey.subarray(0, 32);
  }

  toJSON(): KnownJson {
    const out: KnownJson = {};
    for (const [h, d] of this.byHash)
      out[h] = { k: d.publicKey.toString('hex'), a: d.appData ? d.appData.toString('hex') : null, r: d.ratchet ? d.ratchet.publicKey.toString('hex') : null, t: d.ratchet?.receivedAtMs ?? 0 };
    return out;
  }

  static fromJSON(json: unknown, capacity?: number): KnownDestinations {
    const t = new KnownDestinations(capacity);
    if (!json || typeof json !== 'object') return t;
    for (const [h, v] of Object.entries(json as KnownJson)) {
      if (!/^[0-9a-f]{32}$/.test(h) || !v || typeof v.k !== 'string' || v.k.length !== 128) continue;
      t.byHash.set(h, {
        publicKey: Buffer.from(v.k, 'hex'),
        appData: typeof v.a === 'string' ? Buffer.from(v.a, 'hex') : null,
        ratchet: typeof v.r === 'string' && v.r.length === 64 ? { publicKey: Buffer.from(v.r, 'hex'), receivedAtMs: Number(v.t) || 0 } : null,
      });
    }
    return t;
  }
}
