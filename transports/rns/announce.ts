// ANNOUNCE (rns-wire.md §7): publishes a SINGLE destination's public key, name hash and app_data, signed by the
// identity. Announces are never encrypted. Validation is the reference's: signature over signed_data, then
// destination_hash == H16(name_hash ‖ H16(public_key)); the "same key as before" rule needs state and lives in
// known-destinations.ts.
import { randomBytes } from 'node:crypto';
import { Context, DestinationType, MAX_APP_DATA, MAX_APP_DATA_WITH_RATCHET, PacketType } from './constants.js';
import { identityHash, verifyWithPublicKey, type RnsIdentity } from './identity.js';
import { nameHash, singleDestinationHash } from './names.js';
import { encodePacket, type RnsPacket } from './packet.js';

export interface AnnounceInput {
  identity: RnsIdentity;
  name: string;
  appData?: Uint8Array;
  ratchetPublic?: Uint8Array | null;
  /** 10 bytes; default 5 random bytes ‖ emission time (5-byte big-endian seconds). */
  randomHash?: Uint8Array;
  emittedAtS?: number;
  /** NONE, or PATH_RESPONSE when answering a path request (§8). */
  context?: number;
}

export function makeRandomHash(emittedAtS: number, prefix: Uint8Array = randomBytes(5)): Buffer {
  const t = Buffer.alloc(5);
  t.writeUIntBE(Math.floor(emittedAtS), 0, 5);
  return Buffer.concat([prefix.subarray(0, 5), t]);
}

export const emissionTimeS = (randomHash: Uint8Array): number => Buffer.from(randomHash).readUIntBE(5, 5);

export function buildAnnounce(a: AnnounceInput): RnsPacket {
  const nh = nameHash(a.name);
  const dest = singleDestinationHash(nh, a.identity.hash);
  const rh = Buffer.from(a.randomHash ?? makeRandomHash(a.emittedAtS ?? Date.now() / 1000));
  const ratchet = a.ratchetPublic ? Buffer.from(a.ratchetPublic) : Buffer.alloc(0);
  const appData = a.appData ? Buffer.from(a.appData) : Buffer.alloc(0);
  if (appData.length > (ratchet.length ? MAX_APP_DATA_WITH_RATCHET : MAX_APP_DATA)) throw new RangeError(`announce app_data of ${appData.length} bytes would not fit a re-broadcast`);
  const signed = Buffer.concat([dest, a.identity.publicKey, nh, rh, ratchet, appData]);
  const signature = a.identity.sign(signed);
  return encodePacket({
    destinationType: DestinationType.SINGLE,
    packetType: PacketType.ANNOUNCE,
    contextFlag: ratchet.length ? 1 : 0,
    destinationHash: dest,
    context: a.context ?? Context.NONE,
    data: Buffer.concat([a.identity.publicKey, nh, rh, ratchet, signature, appData]),
  });
}

export interface ValidAnnounce {
  destinationHash: Buffer;
  publicKey: Buffer;
  identityHash: Buffer;
  nameHash: Buffer;
  randomHash: Buffer;
  emittedAtS: number;
  ratchetPublic: Buffer | null;
  signature: Buffer;
  /** null when nothing (or nothing but an empty string) follows the signature. */
  appData: Buffer | null;
}

export type AnnounceRejection = 'not_announce' | 'not_single' | 'too_short' | 'bad_signature' | 'destination_mismatch';

/** Stateless checks 1–3 of §7; returns the parsed fields or why it was rejected. */
export function validateAnnounce(p: RnsPacket): ValidAnnounce | AnnounceRejection {
  if (p.packetType !== PacketType.ANNOUNCE) return 'not_announce';
  if (p.destinationType !== DestinationType.SINGLE) return 'not_single';
  const ratchetLen = p.contextFlag ? 32 : 0;
  const fixed = 64 + 10 + 10 + ratchetLen + 64;
  if (p.data.length < fixed) return 'too_short';
  const d = p.data;
  const publicKey = d.subarray(0, 64);
  const nh = d.subarray(64, 74);
  const rh = d.subarray(74, 84);
  const ratchet = ratchetLen ? d.subarray(84, 116) : null;
  const signature = d.subarray(84 + ratchetLen, fixed);
  const appData = d.subarray(fixed);
  const signed = Buffer.concat([p.destinationHash, publicKey, nh, rh, ratchet ?? Buffer.alloc(0), appData]);
  if (!verifyWithPublicKey(publicKey, signed, signature)) return 'bad_signature';
  const idHash = identityHash(publicKey);
  if (!singleDestinationHash(Buffer.from(nh), idHash).equals(p.destinationHash)) return 'destination_mismatch';
  return {
    destinationHash: p.destinationHash,
    publicKey: Buffer.from(publicKey),
    identityHash: idHash,
    nameHash: Buffer.from(nh),
    randomHash: Buffer.from(rh),
    emittedAtS: emissionTimeS(rh),
    ratchetPublic: ratchet ? Buffer.from(ratchet) : null,
    signature: Buffer.from(signature),
    appData: appData.length ? Buffer.from(appData) : null,
  };
}
