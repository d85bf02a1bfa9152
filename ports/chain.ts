// What actors and the peer application need from the chain (issue 9: ports instead of cycles). The chain actor
// (actors/chain-actor.ts) satisfies it structurally; callers outside actors/ depend on this, not on the class.
import type { ChainEvent } from '../protocol/event.js';

export interface ChainIngestResult {
  accepted: number;
  duplicates: number;
  rejected: Array<{ index: number; reason: string; code?: string }>;
}

/** Read side: what a sync server needs to answer a page. */
export interface ChainReadPort {
  readonly head: string;
  readonly length: number;
  heightOf(eventId: string): number | undefined;
  /** The id at `height` from memory, when the chain knows it without a read (undefined: read it with readRange). */
  idAt?(height: number): string | undefined;
  readRange(from: number, count: number): Promise<ChainEvent[]>;
}

/** Read + ingest (peer push, sync client) + the §9.3 reset (sync client only). */
export interface ChainPort extends ChainReadPort {
  ingest(events: readonly unknown[], maxAgeS?: number): Promise<ChainIngestResult>;
  resetToGenesis(): Promise<void>;
}
