// Durable per-peer outbound replication queue (issue 5; spec §8.3.7 tightening, §10.1.3).
//   outbox     "<peer url>\0<seq, 18 digits>" → OutboxItem   one queued push (envelope) or ack per peer
// An envelope of a local deposit is stored without its body, naming its `source` mailbox instead: the deposit's own
// batch holds the message already, so the body is rebuilt from it when the outbox is loaded after a restart (issue 14:
// a stored body per peer was two thirds of the bytes a deposit wrote). A message no longer pending by then (claimed,
// expired) has nothing left to push. Items stored with a body (older versions, acks) load as they are.
//   outboxlink "<peer url>"                   → persisted peer-link actor snapshot (backoff deadlines)
// seq grows monotonically across restarts (max(last + 1, µs wall clock)), so each peer's items replay in
// enqueue order. Every write goes through the node's group committer: an enqueue resolves only once the
// item is fsync'd, which is what lets a deposit be acknowledged only after its outbox entries are durable.
import { type Db, sublevel, type Sublevel } from './db.js';
import { type BatchOp, GroupCommitter } from './group-commit.js';

export type OutboxKind = 'envelope' | 'ack';

export interface OutboxItem {
  kind: OutboxKind;
  msg_id: string;
  /** envelope: the exact `{"envelope":…}` request body; ack: one compact JSON ack descriptor. */
  body: Uint8Array;
  attempts: number;
  /** Absolute clock seconds before which the item is not sent (0 = now). */
  next_attempt_at: number;
  created_at: number;
  /** Given up (dropped, counted) at or after this time. */
  expires_at: number;
  /** Envelopes only: the pending message the body is rebuilt from after a restart; the body is then not stored. */
  source?: EnvelopeSource;
}

export interface EnvelopeSource {
  mailbox_key: string;
  /** Request-class deposits: the recipient id the envelope names. */
  recipient_id?: string;
}

/**
 * One message as the outbox and the peer links name it: its mailbox and its msg_id (msg ids are the depositors' and only
 * unique per mailbox). Items stored by older versions name no mailbox (`mailboxKey` '').
 */
export const messageName = (mailboxKey: string, msgId: string): string => `${mailboxKey}\0${msgId}`;

/** The bodies of stored items that have none (`source` set), in order; null where the message is no longer pending. */
export type RebuildBodies = (wanted: ReadonlyArray<{ source: EnvelopeSource; msgId: string }>) => Promise<Array<Uint8Array | null>>;

export interface LoadedOutbox {
  /** Every queued item grouped by peer, each list in FIFO order. */
  queued: Map<string, QueuedItem[]>;
  /** Items whose body could not be rebuilt (message no longer pending): the caller removes them. */
  gone: QueuedItem[];
}

export interface QueuedItem extends OutboxItem {
  peer: string;
  /** Storage key; its order is the peer's FIFO order. */
  key: string;
}

const SEP = '\u0000';
const SEQ_DIGITS = 18;

export class OutboxStore {
  readonly items: Sublevel;
  readonly links: Sublevel;
  readonly committer: GroupCommitter;
  private lastSeq = 0;

  constructor(readonly db: Db, committer?: GroupCommitter) {
    this.items = sublevel(db, 'outbox');
    this.links = sublevel(db, 'outboxlink');
    this.committer = committer ?? new GroupCommitter(db);
  }

  /**
   * Every queued item grouped by peer, each list in FIFO order; bodies not stored are rebuilt (once per message, for
   * all its peers). Also primes the sequence counter.
   */
  async loadAll(rebuild: RebuildBodies): Promise<LoadedOutbox> {
    const loaded: Array<{ value: OutboxItem; peer: string; key: string }> = [];
    for await (const [key, value] of this.items.iterator() as AsyncIterable<[string, OutboxItem]>) {
      const cut = key.lastIndexOf(SEP);
      if (cut < 0) continue;
      const seq = Number(key.slice(cut + 1));
      if (seq > this.lastSeq) this.lastSeq = seq;
      loaded.push({ value, peer: key.slice(0, cut), key });
    }
    // Bodies not stored: rebuilt once per message (each is queued once per peer), all in one call.
    const bodyless = (v: OutboxItem): v is OutboxItem & { source: EnvelopeSource } => v.source !== undefined && v.body === undefined;
    const messageOf = (v: OutboxItem & { source: EnvelopeSource }): string => messageName(v.source.mailbox_key, v.msg_id);
    const wantedBy = new Map<string, { source: EnvelopeSource; msgId: string }>();
    for (const { value } of loaded) if (bodyless(value)) wantedBy.set(messageOf(value), { source: value.source, msgId: value.msg_id });
    const wanted = [...wantedBy.values()];
    const rebuilt = wanted.length ? await rebuild(wanted) : [];
    const bodies = new Map([...wantedBy.keys()].map((k, i) => [k, rebuilt[i] ?? null]));
    const queued = new Map<string, QueuedItem[]>();
    const gone: QueuedItem[] = [];
    for (const { value, peer, key } of loaded) {
      const body = bodyless(value) ? bodies.get(messageOf(value)) ?? null : toBytes(value.body);
      const item: QueuedItem = { ...value, body: body ?? new Uint8Array(0), peer, key };
      if (body === null) {
        gone.push(item);
        continue;
      }
      let list = queued.get(peer);
      if (!list) queued.set(peer, (list = []));
      list.push(item);
    }
    return { queued, gone };
  }

  private nextKey(peer: string): string {
    this.lastSeq = Math.max(this.lastSeq + 1, Date.now() * 1000);
    return `${peer}${SEP}${this.lastSeq.toString().padStart(SEQ_DIGITS, '0')}`;
  }

  /**
   * Items for each peer plus the ops that store them (so callers can add them to a larger batch). Every peer's entry
   * stores the same value, so it is built once (a local deposit prepares one per push peer on its hot path).
   */
  prepare(peers: readonly string[], item: OutboxItem): { items: QueuedItem[]; ops: BatchOp[] } {
    const value = stored(item);
    const items: QueuedItem[] = new Array(peers.length);
    const ops: BatchOp[] = new Array(peers.length);
    for (let i = 0; i < peers.length; i++) {
      const peer = peers[i];
      const key = this.nextKey(peer);
      items[i] = {
        kind: item.kind, msg_id: item.msg_id, body: item.body, attempts: item.attempts, next_attempt_at: item.next_attempt_at,
        created_at: item.created_at, expires_at: item.expires_at, peer, key,
      };
      if (item.source) items[i].source = item.source;
      ops[i] = { type: 'put', key, value, sublevel: this.items };
    }
    return { items, ops };
  }

  /** Queues `item` for every peer; resolves once durable. */
  async enqueue(peers: readonly string[], item: OutboxItem): Promise<QueuedItem[]> {
    const { items, ops } = this.prepare(peers, item);
    await this.committer.write(ops);
    return items;
  }

  /** Rewrites an item's retry state (attempts, next_attempt_at). */
  update(item: QueuedItem): Promise<void> {
    return this.committer.write([{ type: 'put', key: item.key, value: stored(item), sublevel: this.items }]);
  }

  remove(items: readonly QueuedItem[]): Promise<void> {
    return this.committer.write(items.map((q) => ({ type: 'del' as const, key: q.key, sublevel: this.items })));
  }

  async loadLink(peer: string): Promise<unknown> {
    return this.links.get(peer);
  }

  saveLink(peer: string, snapshot: unknown): Promise<void> {
    return this.committer.write([{ type: 'put', key: peer, value: snapshot, sublevel: this.links }]);
  }

  async count(): Promise<number> {
    let n = 0;
    for await (const _k of this.items.keys() as AsyncIterable<string>) n++;
    return n;
  }
}

/** The stored form: the body, or for an item with a `source` the source instead of the body. */
function stored(q: OutboxItem): Omit<OutboxItem, 'body'> & { body?: Buffer } {
  const base = { kind: q.kind, msg_id: q.msg_id, attempts: q.attempts, next_attempt_at: q.next_attempt_at, created_at: q.created_at, expires_at: q.expires_at };
  return q.source ? { ...base, source: q.source } : { ...base, body: Buffer.from(q.body.buffer, q.body.byteOffset, q.body.byteLength) };
}

const toBytes = (b: unknown): Uint8Array => (b instanceof Uint8Array ? b : Buffer.from(String(b ?? ''), 'utf8'));
