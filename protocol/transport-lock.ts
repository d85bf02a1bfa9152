// transport_lock rules (§4.3.5, §4.5.4, §5.3.5, §5.6.4).
export const GATE_APPEND_LOCK = 'private_strong';
/** Locks that older gate history may carry and that ingest/fork/validation still accept. */
export const GATE_HISTORY_LOCKS: ReadonlySet<string> = new Set(['private', 'private_strong', 'rns', 'onion']);
export const DM_LOCK = 'private_strong';

export const normalizeLock = (v: unknown): string => (typeof v === 'string' ? v.trim().toLowerCase() : '');
