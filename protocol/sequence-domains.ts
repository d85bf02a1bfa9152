// Sequence domains (§3.1): each author has independent counters for public events, gate posts, chain
// DMs and off-chain signed writes, so posting in one domain never blocks another.
import { ErrorCodes, reject, type Rejection } from './errors.js';

export type SequenceDomain = 'public' | 'gate_message' | 'dm_message';
export const SIGNED_WRITE_DOMAINS: ReadonlySet<string> = new Set(['dm_send', 'dm_poll', 'dm_count', 'dm_witness', 'trust_vouch']);

export function domainOfEventType(eventType: string): SequenceDomain {
  return eventType === 'gate_message' || eventType === 'dm_message' ? eventType : 'public';
}

/** Key in the `sequence_domains` table for a private chain domain or an off-chain signed-write domain. */
export const domainKey = (nodeId: string, domain: string): string => `${nodeId}|${domain.toLowerCase()}`;

export interface SequenceTables {
  nodeSequences: Map<string, number>;
  sequenceDomains: Map<string, number>;
}

export function lastSequence(t: SequenceTables, nodeId: string, domain: SequenceDomain): number {
  return (domain === 'public' ? t.nodeSequences.get(nodeId) : t.sequenceDomains.get(domainKey(nodeId, domain))) ?? 0;
}

export function setSequence(t: SequenceTables, nodeId: string, domain: SequenceDomain, seq: number): void {
  if (domain === 'public') t.nodeSequences.set(nodeId, seq);
  else t.sequenceDomains.set(domainKey(nodeId, domain), seq);
}

export const isPositiveInt = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n > 0;

/**
 * Off-chain signed writes (dm_send, dm_poll, ...): validate and advance immediately (§3.1.4).
 * Mutates the table; the caller persists it.
 */
export function validateAndSetSignedWriteSequence(t: SequenceTables, nodeId: string, seq: unknown, domain: string): Rejection | null {
  if (!isPositiveInt(seq)) return reject(ErrorCodes.INVALID_SEQUENCE, 'Sequence must be a positive integer');
  const key = domainKey(nodeId, domain);
  const last = t.sequenceDomains.get(key) ?? 0;
  if (seq <= last) return reject(ErrorCodes.REPLAY, `Replay detected: sequence ${seq} <= last ${last}`);
  t.sequenceDomains.set(key, seq);
  return null;
}
