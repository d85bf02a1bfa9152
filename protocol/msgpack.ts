// The msgpackr setups (pure: msgpackr does no I/O), in one place: `msgpackr` for bus bodies and store values, and
// `msgpackrBigInt` (below) for private state that must keep bigints. `msgpackr` is plain data only: no records or
// structures (both sides would have to share them, and values on disk must stay readable by later versions), no
// proprietary extension types (Error/RegExp/Set objects from an outsider's body), maps decode as plain objects, and a
// 64-bit integer decodes to a bigint only when it does not fit a JS number exactly (never a silently rounded number).
import { Packr } from 'msgpackr';

export const msgpackr = new Packr({
  useRecords: false,
  mapsAsObjects: true,
  moreTypes: false,
  int64AsType: 'auto',
} as unknown as ConstructorParameters<typeof Packr>[0]);

/** MessagePack bytes (a Buffer view of msgpackr's shared output: copy before keeping it across packs). */
export function packMsgpack(value: unknown): Buffer {
  return msgpackr.pack(value);
}

/** Decodes MessagePack; throws on malformed input (callers handling untrusted bytes catch and type the error). */
export function unpackMsgpack(bytes: Uint8Array): unknown {
  return msgpackr.unpack(bytes);
}

/**
 * The setup for this node's own private state that carries 64-bit integers as bigints (MLS group state: ts-mls keeps
 * epochs and generations as bigint): every int64 decodes back to a bigint, so state round-trips exactly. Never used for
 * bodies from outside.
 */
export const msgpackrBigInt = new Packr({ useRecords: false, mapsAsObjects: true });
