// Path requests (rns-wire.md §8): PLAIN DATA to `rnstransport.path.request`, data = requested hash ‖ [transport
// id] ‖ tag. Every retry carries a fresh tag because receivers ignore a repeated (destination, tag) pair.
import { randomBytes } from 'node:crypto';
import { Context, DestinationType, PacketType } from './constants.js';
import { PATH_REQUEST_DESTINATION } from './names.js';
import { encodePacket, type RnsPacket } from './packet.js';

export function buildPathRequest(destinationHash: Buffer, tag: Buffer = randomBytes(16)): RnsPacket {
  return encodePacket({
    destinationType: DestinationType.PLAIN,
    packetType: PacketType.DATA,
    destinationHash: PATH_REQUEST_DESTINATION,
    context: Context.NONE,
    data: Buffer.concat([destinationHash, tag]),
  });
}

export interface PathRequest {
  destinationHash: Buffer;
  requesterTransportId: Buffer | null;
  tag: Buffer;
}

/** null for anything that is not a tagged path request (requests without a tag are ignored, §8). */
export function parsePathRequest(p: RnsPacket): PathRequest | null {
  if (p.packetType !== PacketType.DATA || p.destinationType !== DestinationType.PLAIN) return null;
  if (!p.destinationHash.equals(PATH_REQUEST_DESTINATION)) return null;
  const d = p.data;
  if (d.length >= 48) return { destinationHash: d.subarray(0, 16), requesterTransportId: d.subarray(16, 32), tag: d.subarray(32, 48) };
  if (d.length > 16) return { destinationHash: d.subarray(0, 16), requesterTransportId: null, tag: d.subarray(16, Math.min(d.length, 32)) };
  return null;
}
