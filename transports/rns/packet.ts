// Packet codec (rns-wire.md §3, §4, §12): HEADER_1 / HEADER_2 layout, the flags byte, the packet hash that
// ignores hops and the transport id, and HEADER_2 insertion for multi-hop paths. Pure: no I/O.
import { createHash } from 'node:crypto';
import { HEADER_1_SIZE, HEADER_2_SIZE, HeaderType, MAX_HOPS, MTU, TransportType } from './constants.js';

export interface RnsPacket {
  headerType: number;
  contextFlag: number;
  transportType: number;
  destinationType: number;
  packetType: number;
  hops: number;
  /** 16 bytes for HEADER_2, null for HEADER_1. */
  transportId: Buffer | null;
  destinationHash: Buffer;
  context: number;
  data: Buffer;
  /** The exact bytes this packet was decoded from or encoded to. */
  raw: Buffer;
}

export type PacketFields = Omit<RnsPacket, 'raw' | 'headerType' | 'transportType' | 'hops' | 'transportId' | 'contextFlag'> & {
  contextFlag?: number;
  hops?: number;
  /** Given → HEADER_2 / TRANSPORT with this next-hop id. */
  transportId?: Buffer | null;
};

export const flagsByte = (headerType: number, contextFlag: number, transportType: number, destinationType: number, packetType: number): number =>
  ((headerType & 1) << 6) | ((contextFlag & 1) << 5) | ((transportType & 1) << 4) | ((destinationType & 3) << 2) | (packetType & 3);

export function encodePacket(f: PacketFields): RnsPacket {
  if (f.destinationHash.length !== 16) throw new RangeError('destination hash must be 16 bytes');
  const h2 = f.transportId != null;
  if (h2 && f.transportId!.length !== 16) throw new RangeError('transport id must be 16 bytes');
  const headerType = h2 ? HeaderType.HEADER_2 : HeaderType.HEADER_1;
  const transportType = h2 ? TransportType.TRANSPORT : TransportType.BROADCAST;
  const contextFlag = f.contextFlag ?? 0;
  const hops = f.hops ?? 0;
  const parts: Buffer[] = [Buffer.from([flagsByte(headerType, contextFlag, transportType, f.destinationType, f.packetType), hops])];
  if (h2) parts.push(f.transportId!);
  parts.push(f.destinationHash, Buffer.from([f.context]), f.data);
  const raw = Buffer.concat(parts);
  if (raw.length > MTU) throw new RangeError(`packet of ${raw.length} bytes exceeds the ${MTU}-byte MTU`);
  return { headerType, contextFlag, transportType, destinationType: f.destinationType, packetType: f.packetType, hops, transportId: h2 ? f.transportId! : null, destinationHash: f.destinationHash, context: f.context, data: f.data, raw };
}

/** Parse one unframed packet; null for anything §3 says to drop (IFAC bit, hops ≥ 128, short header). */
export function decodePacket(raw: Buffer): RnsPacket | null {
  if (raw.length < 2) return null;
  const flags = raw[0];
  if (flags & 0x80) return null;
  const headerType = (flags >> 6) & 1;
  const size = headerType === HeaderType.HEADER_2 ? HEADER_2_SIZE : HEADER_1_SIZE;
  if (raw.length < size) return null;
  const hops = raw[1];
  if (hops >= MAX_HOPS) return null;
  const h2 = headerType === HeaderType.HEADER_2;
  return {
    headerType,
    contextFlag: (flags >> 5) & 1,
    transportType: (flags >> 4) & 1,
    destinationType: (flags >> 2) & 3,
    packetType: flags & 3,
    hops,
    transportId: h2 ? Buffer.from(raw.subarray(2, 18)) : null,
    destinationHash: Buffer.from(raw.subarray(h2 ? 18 : 2, h2 ? 34 : 18)),
    context: raw[size - 1],
    data: Buffer.from(raw.subarray(size)),
    raw,
  };
}

/** `(flags & 0x0F) ‖ raw[2:]` (HEADER_1) or `‖ raw[18:]` (HEADER_2): invariant under hops and HEADER_2 (§4). */
export function hashablePart(raw: Buffer): Buffer {
  const h2 = ((raw[0] >> 6) & 1) === HeaderType.HEADER_2;
  return Buffer.concat([Buffer.from([raw[0] & 0x0f]), raw.subarray(h2 ? 18 : 2)]);
}

export const packetHash = (raw: Buffer): Buffer => createHash('sha256').update(hashablePart(raw)).digest();
export const truncatedPacketHash = (raw: Buffer): Buffer => packetHash(raw).subarray(0, 16);

/** §12: `(0x40 | 0x10 | flags & 0x0F) ‖ hops ‖ next_hop[16] ‖ raw[2:]` — hops untouched, packet hash unchanged. */
export function insertTransport(raw: Buffer, nextHop: Buffer): Buffer {
  if (nextHop.length !== 16) throw new RangeError('transport id must be 16 bytes');
  if (((raw[0] >> 6) & 1) === HeaderType.HEADER_2) throw new RangeError('packet already has a transport header');
  const out = Buffer.concat([Buffer.from([0x40 | 0x10 | (raw[0] & 0x0f), raw[1]]), nextHop, raw.subarray(2)]);
  if (out.length > MTU) throw new RangeError(`packet of ${out.length} bytes exceeds the ${MTU}-byte MTU once HEADER_2 is inserted`);
  return out;
}
