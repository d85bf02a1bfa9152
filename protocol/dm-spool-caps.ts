// DM hashchain spool caps (§5.5): at most `limit` live chain DMs per recipient mailbox and
// `senderLimit` per (sender, recipient mailbox); an entry counts for `ttlS` seconds.
import { ErrorCodes, reject, type Rejection } from './errors.js';
import type { Payload } from './event.js';
import type { SpoolCapSettings } from './settings.js';

export interface SpoolEntry {
  nodeId: string;
  /** payload.timestamp (normalised DM payloads always carry it; 0 counts forever, faithful to the original). */
  ts: number;
}

export type SpoolIndex = Map<string, SpoolEntry[]>;

/** Mailbox target (§5.5.1): "<class>|<key>", or null when the key is empty (counts nothing). */
export function spoolTarget(p: Payload): string | null {
  const cls = String(p.delivery_class ?? '');
  const key = String((cls === 'shared' ? p.recipient_token : p.recipient_id) ?? '').trim();
  return key ? `${cls}|${key}` : null;
}

export function spoolTimestamp(p: Payload, eventTimestamp: number): number {
  return 'timestamp' in p ? Number(p.timestamp) || 0 : eventTimestamp;
}

export function recordSpoolEntry(index: SpoolIndex, p: Payload, nodeId: string, eventTimestamp: number): void {
  const target = spoolTarget(p);
  if (!target) return;
  const list = index.get(target);
  const entry = { nodeId, ts: spoolTimestamp(p, eventTimestamp) };
  if (list) list.push(entry);
  else index.set(target, [entry]);
}

export function checkSpoolCaps(index: SpoolIndex, p: Payload, senderNodeId: string, now: number, caps: SpoolCapSettings): Rejection | null {
  const target = spoolTarget(p);
  if (!target) return null;
  let total = 0;
  let sender = 0;
  for (const e of index.get(target) ?? []) {
    if (e.ts > 0 && now - e.ts > caps.ttlS) continue;
    total++;
    if (e.nodeId === senderNodeId) sender++;
  }
  if (sender >= caps.senderLimit) return reject(ErrorCodes.SENDER_SPOOL_FULL, 'DM hashchain sender spool full for recipient');
  if (total >= caps.limit) return reject(ErrorCodes.SPOOL_FULL, 'DM hashchain spool full for recipient');
  return null;
}

/** [tightening] §5.5.6 local append only: senders cannot dodge the TTL window by back-dating. */
export function checkSpoolTimestampWindow(p: Payload, now: number, caps: SpoolCapSettings): Rejection | null {
  const ts = Number(p.timestamp) || 0;
  if (ts < now - caps.ttlS || ts > now + 300) return reject(ErrorCodes.SPOOL_WINDOW, 'DM spool timestamp outside window');
  return null;
}
