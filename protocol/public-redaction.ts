// What a sync caller is shown of the chain (spec §9.5), in a form a public puller can still check.
//
// `events` is the spec's list: private events (gate_message, dm_message) are omitted for public callers
// (§9.5.3) and `vote` / `key_rotate` lose their §9.5.4 fields. Because §9.5.4 changes hashed and signed
// content, such events carry `redacted_fields` naming what was removed. `links` is one entry per chain
// position served, `{event_id, prev_hash}`, with `redacted: true` where the event was withheld — the
// stubs that keep the hash chain's linkage visible. docs/public-sync-redaction.md states the guarantees.
import { GENESIS_HASH } from './constants.js';
import type { ChainEvent } from './event.js';
import { eventToWireJson } from './event.js';
import { matchEventId } from './event-id.js';
import { verifyEventSignature } from './validate-event.js';

export const PRIVATE_SYNC_TYPES: ReadonlySet<string> = new Set(['gate_message', 'dm_message']);

/** §9.5.4: payload fields removed from public event types before serving. */
export const PUBLIC_REDACTED_PAYLOAD_FIELDS: Readonly<Record<string, readonly string[]>> = {
  vote: ['gate'],
  key_rotate: ['old_node_id', 'old_public_key', 'old_public_key_algo', 'old_signature'],
};

/** An event as served: possibly with §9.5.4 fields removed, then marked. */
export type ServedEvent = ChainEvent & { redacted_fields?: string[] };

/** One chain position of a served page. */
export interface LinkEntry {
  event_id: string;
  prev_hash: string;
  /** The event at this position was withheld from this caller (a private event). */
  redacted?: true;
}

export interface RedactionOptions {
  /** Caller may see gate_message / dm_message (protocol/private-caller.ts `includePrivateEvents`). */
  includePrivate: boolean;
  /**
   * [extension] Skip §9.5.4 for this caller. Only for private callers that authenticated as a peer
   * (§8.2): their pages must be ingestible, and §9.5.4 breaks the event ids of what it touches.
   */
  unredacted?: boolean;
}

export interface RedactedPage {
  events: ServedEvent[];
  links: LinkEntry[];
}

/** §9.5.4 on one event; the original object is never modified. */
export function publicRedact(ev: ChainEvent): ServedEvent {
  const fields = PUBLIC_REDACTED_PAYLOAD_FIELDS[ev.event_type];
  if (!fields || !ev.payload || typeof ev.payload !== 'object') return ev;
  const removed = fields.filter((f) => Object.prototype.hasOwnProperty.call(ev.payload, f));
  if (removed.length === 0) return ev;
  const payload = { ...ev.payload };
  for (const f of removed) delete payload[f];
  return { ...ev, payload, redacted_fields: removed.map((f) => `payload.${f}`) };
}

/** `sync_response_events` (§9.5) plus the linkage list. `events` is a contiguous chain slice. */
export function redactPage(events: readonly ChainEvent[], opts: RedactionOptions): RedactedPage {
  const out: ServedEvent[] = [];
  const links: LinkEntry[] = [];
  for (const ev of events) {
    if (PRIVATE_SYNC_TYPES.has(ev.event_type) && !opts.includePrivate) {
      links.push({ event_id: ev.event_id, prev_hash: ev.prev_hash, redacted: true });
      continue;
    }
    links.push({ event_id: ev.event_id, prev_hash: ev.prev_hash });
    out.push(opts.unredacted && opts.includePrivate ? ev : publicRedact(ev));
  }
  return { events: out, links };
}

/** Wire JSON of a served event: eventToWireJson (integer-literal timestamps kept) plus the marker. */
export function servedEventToWireJson(ev: ServedEvent): string {
  const base = eventToWireJson(ev);
  if (!ev.redacted_fields?.length) return base;
  return `${base.slice(0, -1)},"redacted_fields":${JSON.stringify(ev.redacted_fields)}}`;
}

// ---- what a public puller can check ---------------------------------------------------------------

export interface PageCheck {
  ok: boolean;
  /** Position in the checked list of the first problem. */
  index?: number;
  reason?: string;
  /** Events whose id recomputes and whose signature verifies. */
  verified: number;
  /** Events present with §9.5.4 redactions: their links are taken as served, not checked. */
  linkageOnly: number;
  /** Withheld positions. */
  stubs: number;
  /** event_id of the last position (the expected prev of the next page). */
  last: string;
}

const HEX64 = /^[0-9a-f]{64}$/;
const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/**
 * Checks an interleaved page — full events, §9.5.4-redacted events and stubs `{event_id, prev_hash,
 * redacted:true}`, in chain order — against the hash the page must continue from: every position
 * links to the one before; every fully present event's id recomputes (which commits to its prev_hash)
 * and its signature verifies; redacted events and stubs count as linkage only.
 */
export function verifyRedactedPage(items: readonly unknown[], expectedPrev: string = GENESIS_HASH): PageCheck {
  const r: PageCheck = { ok: true, verified: 0, linkageOnly: 0, stubs: 0, last: expectedPrev };
  const bad = (index: number, reason: string): PageCheck => ({ ...r, ok: false, index, reason });
  const seen = new Set<string>();
  let prev = expectedPrev;
  for (let i = 0; i < items.length; i++) {
    const it = items[i];
    if (!isObj(it)) return bad(i, 'entry is not an object');
    const id = it.event_id, ph = it.prev_hash;
    if (typeof id !== 'string' || !HEX64.test(id) || typeof ph !== 'string' || !HEX64.test(ph)) return bad(i, 'malformed event_id or prev_hash');
    if (ph !== prev) return bad(i, 'broken link: prev_hash does not match the previous entry');
    if (seen.has(id)) return bad(i, 'duplicate event_id');
    seen.add(id);
    if (it.redacted === true) {
      r.stubs++;
    } else if (Array.isArray(it.redacted_fields) && it.redacted_fields.length > 0) {
      r.linkageOnly++;
    } else {
      const ev = it as unknown as ChainEvent;
      if (!isObj(ev.payload) || typeof ev.event_type !== 'string') return bad(i, 'event is neither complete nor marked redacted');
      if (!matchEventId(ev)) return bad(i, 'event_id mismatch');
      let sigOk = false;
      try {
        sigOk = verifyEventSignature(ev);
      } catch {
        sigOk = false;
      }
      if (!sigOk) return bad(i, 'Invalid signature');
      r.verified++;
    }
    prev = id;
    r.last = id;
  }
  return r;
}

/**
 * Rebuilds the interleaved page from a sync response's `events` and `links`, refusing responses where
 * they disagree: every non-stub link must be matched, in order, by an event with the same id and
 * prev_hash, and no event may sit on a stub (so a server cannot drop public events silently).
 */
export function interleavePage(events: readonly unknown[], links: readonly unknown[]): { ok: true; items: unknown[] } | { ok: false; reason: string } {
  const items: unknown[] = [];
  let e = 0;
  for (const l of links) {
    if (!isObj(l)) return { ok: false, reason: 'link is not an object' };
    if (l.redacted === true) {
      items.push({ event_id: l.event_id, prev_hash: l.prev_hash, redacted: true });
      continue;
    }
    const ev = events[e++];
    if (!isObj(ev) || ev.event_id !== l.event_id || ev.prev_hash !== l.prev_hash) {
      return { ok: false, reason: `event ${e - 1} does not match link ${String(l.event_id)}` };
    }
    items.push(ev);
  }
  if (e !== events.length) return { ok: false, reason: 'events not covered by links' };
  return { ok: true, items };
}

/** verifyRedactedPage over a sync response (`{events, links}`); the start is its matched/after hash. */
export function verifySyncResponse(resp: { events?: unknown; links?: unknown }, expectedPrev: string): PageCheck {
  const empty: PageCheck = { ok: false, verified: 0, linkageOnly: 0, stubs: 0, last: expectedPrev };
  if (!Array.isArray(resp.events) || !Array.isArray(resp.links)) return { ...empty, reason: 'events and links must be lists' };
  const merged = interleavePage(resp.events, resp.links);
  if (!merged.ok) return { ...empty, reason: merged.reason };
  return verifyRedactedPage(merged.items, expectedPrev);
}
