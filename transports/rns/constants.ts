// Reticulum wire constants (rns-wire.md §1, §13). Fixed for the whole network: never tune these per node.
export const MTU = 500;
export const HEADER_1_SIZE = 19;
export const HEADER_2_SIZE = 35;
export const MDU = 464;
/** Largest plaintext of one SINGLE packet that still fits as HEADER_2 (§13: 383 → 499 bytes). */
export const ENCRYPTED_MDU = 383;
export const TRUNCATED_HASH_BYTES = 16;
export const NAME_HASH_BYTES = 10;
export const MAX_HOPS = 128;
/** Largest frame a TCP reader accepts (§2); the receive buffer is bounded at twice this. */
export const TCP_HW_MTU = 262_144;
export const PER_HOP_TIMEOUT_MS = 6_000;
export const PATH_EXPIRY_MS = 7 * 24 * 3600 * 1000;
export const RATCHET_EXPIRY_MS = 30 * 24 * 3600 * 1000;

export const HeaderType = { HEADER_1: 0, HEADER_2: 1 } as const;
export const TransportType = { BROADCAST: 0, TRANSPORT: 1 } as const;
export const DestinationType = { SINGLE: 0, GROUP: 1, PLAIN: 2, LINK: 3 } as const;
export const PacketType = { DATA: 0, ANNOUNCE: 1, LINKREQUEST: 2, PROOF: 3 } as const;
export const Context = { NONE: 0x00, PATH_RESPONSE: 0x0b } as const;

/** Announce app_data limits so a transport node's HEADER_2 re-broadcast still fits the MTU (§7). */
export const MAX_APP_DATA = 317;
export const MAX_APP_DATA_WITH_RATCHET = 285;
