// Derived chain state: everything validation needs to decide on the next event without touching the
// event log. It is rebuilt from the events on open (§3.2) and advanced by applyEvent after acceptance.
import { GENESIS_HASH } from './constants.js';
import { EventIndex } from './event-index.js';
import { recordSpoolEntry, type SpoolIndex } from './dm-spool-caps.js';
import type { ChainEvent } from './event.js';
import { applyRevocation, type Revocation } from './key-revocation.js';
import { domainOfEventType, lastSequence, setSequence, SIGNED_WRITE_DOMAINS } from './sequence-domains.js';

export interface ChainState {
  length: number;
  head: string;
  /** event_id → height (0-based); compact, see event-index.ts. */
  eventIndex: EventIndex;
  nodeSequences: Map<string, number>;
  sequenceDomains: Map<string, number>;
  /** public_key string → node_id (§1.2.4). */
  keyBindings: Map<string, string>;
  revocations: Map<string, Revocation>;
  spool: SpoolIndex;
}

export function emptyChainState(): ChainState {
  return {
    length: 0,
    head: GENESIS_HASH,
    eventIndex: new EventIndex(),
    nodeSequences: new Map(),
    sequenceDomains: new Map(),
    keyBindings: new Map(),
    revocations: new Map(),
    spool: new Map(),
  };
}

/** Advance the state by one accepted event. Mutates `state` (the caller owns it). */
export function applyEvent(state: ChainState, ev: ChainEvent): void {
  state.eventIndex.set(ev.event_id, state.length);
  state.length++;
  state.head = ev.event_id;
  const domain = domainOfEventType(ev.event_type);
  if (ev.sequence > lastSequence(state, ev.node_id, domain)) setSequence(state, ev.node_id, domain, ev.sequence);
  if (!state.keyBindings.has(ev.public_key)) state.keyBindings.set(ev.public_key, ev.node_id);
  if (ev.event_type === 'key_revoke') applyRevocation(state.revocations, ev);
  if (ev.event_type === 'dm_message') recordSpoolEntry(state.spool, ev.payload, ev.node_id, ev.timestamp);
}

/** Off-chain signed-write counters (dm_send, dm_poll, …) as a plain object, for persistence. */
export function signedWriteDomains(state: ChainState): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of state.sequenceDomains) {
    const domain = k.slice(k.lastIndexOf('|') + 1);
    if (SIGNED_WRITE_DOMAINS.has(domain)) out[k] = v;
  }
  return out;
}

/** DM-domain counters as a plain object (persisted so a reload keeps max(saved, chain), §3.2.4). */
export function dmDomains(state: ChainState): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of state.sequenceDomains) if (k.endsWith('|dm_message')) out[k] = v;
  return out;
}

/** Every persisted counter (DM domains and signed writes) as `[key, value]` pairs. */
export function persistedDomains(state: ChainState): Array<[string, number]> {
  return [...Object.entries(dmDomains(state)), ...Object.entries(signedWriteDomains(state))];
}

/**
 * §3.2 rebuild: public and gate counters come only from the chain; DM counters are max(saved, chain);
 * signed-write domains are restored unchanged from persistence.
 */
export function rebuildChainState(events: Iterable<ChainEvent>, saved: { dm?: Record<string, number>; signedWrites?: Record<string, number> } = {}): ChainState {
  const state = emptyChainState();
  for (const ev of events) applyEvent(state, ev);
  for (const [k, v] of Object.entries(saved.dm ?? {})) {
    if (k.endsWith('|dm_message') && v > (state.sequenceDomains.get(k) ?? 0)) state.sequenceDomains.set(k, v);
  }
  for (const [k, v] of Object.entries(saved.signedWrites ?? {})) state.sequenceDomains.set(k, v);
  return state;
}


/** Plain-data form of a ChainState (for the incremental validator's checkpoint file). */
export interface SerializedChainState {
  length: number;
  head: string;
  eventIndex: Array<[string, number]>;
  nodeSequences: Array<[string, number]>;
  sequenceDomains: Array<[string, number]>;
  keyBindings: Array<[string, string]>;
  revocations: Array<[string, Revocation]>;
  spool: Array<[string, Array<{ nodeId: string; ts: number }>]>;
}

export function serializeChainState(s: ChainState): SerializedChainState {
  return {
    length: s.length,
    head: s.head,
    eventIndex: [...s.eventIndex],
    nodeSequences: [...s.nodeSequences],
    sequenceDomains: [...s.sequenceDomains],
    keyBindings: [...s.keyBindings],
    revocations: [...s.revocations],
    spool: [...s.spool],
  };
}

export function deserializeChainState(s: SerializedChainState): ChainState {
  return {
    length: s.length,
    head: s.head,
    eventIndex: EventIndex.from(s.eventIndex),
    nodeSequences: new Map(s.nodeSequences),
    sequenceDomains: new Map(s.sequenceDomains),
    keyBindings: new Map(s.keyBindings),
    revocations: new Map(s.revocations),
    spool: new Map(s.spool),
  };
}
