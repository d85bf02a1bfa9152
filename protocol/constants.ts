// Protocol constants (spec §2.1). Changing any of these breaks interop with existing chains.
export const PROTOCOL_VERSION = 'infonet/2';
export const NETWORK_ID = 'sb-testnet-0';
export const GENESIS_HASH = '0'.repeat(64);
export const MAX_PAYLOAD_BYTES = 4096;
export const CHAIN_LOCK_DEPTH = 6;
export const MIN_CONFIRMATIONS_CRITICAL = 3;
export const EPHEMERAL_TTL_S = 86400;
export const MESSAGE_RETENTION_DAYS = 90;

/** Types a caller may append through the generic public path (§2.3). */
export const PUBLIC_EVENT_TYPES = [
  'message', 'vote', 'gate_create', 'prediction', 'stake', 'key_rotate', 'key_revoke', 'abuse_report',
] as const;
/** Types that only the dedicated private append paths may create (§2.3). */
export const PRIVATE_EVENT_TYPES = ['gate_message', 'dm_message'] as const;

export type PublicEventType = (typeof PUBLIC_EVENT_TYPES)[number];
export type PrivateEventType = (typeof PRIVATE_EVENT_TYPES)[number];
export type EventType = PublicEventType | PrivateEventType;

const INGEST_TYPES: ReadonlySet<string> = new Set<string>([...PUBLIC_EVENT_TYPES, ...PRIVATE_EVENT_TYPES]);
const PUBLIC_TYPES: ReadonlySet<string> = new Set<string>(PUBLIC_EVENT_TYPES);

export const isIngestEventType = (t: unknown): t is EventType => typeof t === 'string' && INGEST_TYPES.has(t);
export const isPublicEventType = (t: unknown): t is PublicEventType => typeof t === 'string' && PUBLIC_TYPES.has(t);
export const isPrivateEventType = (t: unknown): t is PrivateEventType => t === 'gate_message' || t === 'dm_message';
