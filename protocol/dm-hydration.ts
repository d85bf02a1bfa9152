// Hydration of the relay from accepted `dm_message` chain events (spec §7.7). Pure: turns one chain
// event into a relay deposit, or says why it is skipped. The registry applies the result once per
// event_id ever (persistent hydration tombstones, §7.7.6 tightening).
import type { ChainEvent } from './event.js';
import type { DepositRequest } from './mailbox-rules.js';
import { hydrationSenderTokenHash } from './mailbox-keys.js';

/** Extra age allowance on top of the chain spool TTL (§7.7.6). */
export const HYDRATION_EXTRA_AGE_S = 3600;

export type HydrationPlan =
  | { kind: 'deposit'; eventId: string; request: DepositRequest; senderNodeId: string }
  | { kind: 'skip'; reason: 'not_dm' | 'too_old' | 'malformed' };

const s = (v: unknown): string => (typeof v === 'string' ? v : '');

export function planHydration(ev: ChainEvent, now: number, spoolTtlS: number): HydrationPlan {
  if (ev.event_type !== 'dm_message') return { kind: 'skip', reason: 'not_dm' };
  const p = ev.payload ?? {};
  const ts = typeof p.timestamp === 'number' ? p.timestamp : Number(p.timestamp ?? 0);
  // [tightening] §7.7.6: old chain DMs are history, not mail.
  if (!Number.isFinite(ts) || ts < now - (spoolTtlS + HYDRATION_EXTRA_AGE_S)) return { kind: 'skip', reason: 'too_old' };
  if (!ev.event_id || !ev.node_id) return { kind: 'skip', reason: 'malformed' };
  const token = s(p.recipient_token).trim();
  const request: DepositRequest = {
    sender_id: ev.node_id,
    raw_sender_id: ev.node_id,
    recipient_id: s(p.recipient_id),
    ciphertext: s(p.ciphertext),
    msg_id: s(p.msg_id),
    delivery_class: s(p.delivery_class),
    ...(token ? { recipient_token: token } : {}),
    sender_seal: s(p.sender_seal),
    relay_salt: s(p.relay_salt),
    sender_token_hash: hydrationSenderTokenHash(ev.event_id, ev.node_id),
    payload_format: s(p.format) || 'dm1',
    session_welcome: s(p.session_welcome),
  };
  return { kind: 'deposit', eventId: ev.event_id, request, senderNodeId: ev.node_id };
}
