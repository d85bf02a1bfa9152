// Implicit proofs (rns-wire.md §11): destination = truncated hash of the proven packet, data = Ed25519 signature
// of its full packet hash, always HEADER_1. Explicit proofs (hash ‖ signature) are accepted, never sent.
import { Context, DestinationType, PacketType } from './constants.js';
import { verifyWithPublicKey, type RnsIdentity } from './identity.js';
import { encodePacket, type RnsPacket } from './packet.js';

export function buildImplicitProof(prover: RnsIdentity, provenPacketHash: Buffer): RnsPacket {
  return encodePacket({
    destinationType: DestinationType.SINGLE,
    packetType: PacketType.PROOF,
    destinationHash: provenPacketHash.subarray(0, 16),
    context: Context.NONE,
    data: prover.sign(provenPacketHash),
  });
}

/** Does `proof` prove the packet with `packetHash`, signed by the 64-byte `recipientPublicKey`? */
export function validateProof(proof: RnsPacket, packetHash: Buffer, recipientPublicKey: Buffer): boolean {
  if (proof.packetType !== PacketType.PROOF) return false;
  if (!proof.destinationHash.equals(packetHash.subarray(0, 16))) return false;
  if (proof.data.length === 64) return verifyWithPublicKey(recipientPublicKey, packetHash, proof.data);
  if (proof.data.length === 96) {
    if (!proof.data.subarray(0, 32).equals(packetHash)) return false;
    return verifyWithPublicKey(recipientPublicKey, packetHash, proof.data.subarray(32));
  }
  return false;
}
