// Revocation table (§1.3): derived from key_revoke events; the greatest revoked_at wins (ties: later event).
import type { ChainEvent } from './event.js';
import { toInt } from './coerce.js';

export interface Revocation {
  revoked_at: number;
  grace_until: number;
  reason: string;
  event_id: string;
  node_id: string;
  algo: string;
}

export function applyRevocation(table: Map<string, Revocation>, ev: ChainEvent): void {
  if (ev.event_type !== 'key_revoke') return;
  const p = ev.payload;
  const key = String(p.revoked_public_key ?? ev.public_key);
  const rec: Revocation = {
    revoked_at: toInt(p.revoked_at),
    grace_until: toInt(p.grace_until),
    reason: String(p.reason ?? ''),
    event_id: ev.event_id,
    node_id: ev.node_id,
    algo: String(p.revoked_public_key_algo ?? ev.public_key_algo),
  };
  const prev = table.get(key);
  if (!prev || rec.revoked_at >= prev.revoked_at) table.set(key, rec);
}

/** Revoked iff a record exists and the grace window has passed (§1.3.5). */
export function isRevoked(table: ReadonlyMap<string, Revocation>, publicKey: string, now: number): boolean {
  const rec = table.get(publicKey);
  return rec !== undefined && now > rec.grace_until;
}
