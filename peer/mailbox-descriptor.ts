// The mailbox an ack or pull item names (§10.1, §10.2), from a schema-checked item: blank strings count as absent.
import type { MailboxDescriptor } from '../ports/mailbox.js';

export function descriptorOf(o: { delivery_class?: string | null; recipient_id?: string | null; recipient_token_hash?: string | null }): MailboxDescriptor {
  const s = (v: string | null | undefined): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
  const d: MailboxDescriptor = { delivery_class: s(o.delivery_class) ?? '' };
  const rid = s(o.recipient_id);
  const th = s(o.recipient_token_hash);
  if (rid) d.recipient_id = rid;
  if (th) d.recipient_token_hash = th;
  return d;
}
