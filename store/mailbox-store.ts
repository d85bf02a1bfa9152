// Durable state of the DM relay in the node's LevelDB (spec §7.10: pending mail survives restarts).
//   mbxbox  mailbox key → persisted mailbox actor snapshot (pending messages + claim tombstones)
//   mbxdue  "<deadline s, zero-padded>|<mailbox key>" → 1: expiry index, so passivated mailboxes
//           are still purged on time and deadlines survive a restart
//   mbxhyd  chain event_id → hydration time: a chain DM is deposited at most once, ever (§7.7.6)
//   mbxmeta "pepper" → the node's MESH_DM_TOKEN_PEPPER when generated here (§7.2)
//   mbxblk  "<recipient id>|<sender block ref>" → 1: recipient block lists (§7.5.1, protocol/block-list.ts)
// Every write goes through the group committer, so callers can acknowledge after it resolves.
// `loadKnownKeys()` (run once at open) keeps the set of mailbox keys that have a record in memory, so the hot
// paths never ask LevelDB for a mailbox that cannot exist (a new mailbox on deposit, an unused claim key on poll).
import { randomBytes } from 'node:crypto';
import { type Db, sublevel, type Sublevel } from './db.js';
import { type BatchOp, GroupCommitter } from './group-commit.js';

export interface MailboxRecord {
  /** XState persisted snapshot of the mailbox actor. */
  snapshot: unknown;
  /** Absolute expiry deadline (s) the due index currently holds for this mailbox, or null. */
  deadline: number | null;
}

const dueKey = (deadline: number, mailboxKey: string): string => `${Math.ceil(deadline).toString().padStart(12, '0')}|${mailboxKey}`;

export class MailboxStore {
  readonly boxes: Sublevel;
  readonly due: Sublevel;
  readonly hydrated: Sublevel;
  readonly meta: Sublevel;
  readonly blocks: Sublevel;
  readonly committer: GroupCommitter;
  /**
   * Keys that may have a record in `mbxbox`: every stored key after loadKnownKeys(), plus every key a put was
   * queued for; a key leaves when its delete is queued. Null until loaded (then every lookup reads the store).
   * It may over-approximate (after a failed write), never under-approximate.
   */
  private known: Set<string> | null = null;

  constructor(readonly db: Db, committer?: GroupCommitter) {
    this.boxes = sublevel(db, 'mbxbox');
    this.due = sublevel(db, 'mbxdue');
    this.hydrated = sublevel(db, 'mbxhyd');
    this.meta = sublevel(db, 'mbxmeta');
    this.blocks = sublevel(db, 'mbxblk');
    this.committer = committer ?? new GroupCommitter(db);
  }

  /** The configured pepper, else the persisted one, else a new one persisted now (§7.2). */
  async pepper(configured: string): Promise<string> {
    if (configured) return configured;
    const stored = await this.meta.get('pepper');
    if (typeof stored === 'string' && stored) return stored;
    const fresh = randomBytes(32).toString('hex');
    await this.committer.write([{ type: 'put', key: 'pepper', value: fresh, sublevel: this.meta }]);
    return fresh;
  }

  /** Reads every stored mailbox key into memory (keys only, ~100 B each). */
  async loadKnownKeys(): Promise<number> {
    const known = new Set<string>();
    for await (const k of this.boxes.keys() as AsyncIterable<string>) known.add(k);
    this.known = known;
    return known.size;
  }

  /** False only when the mailbox certainly has no record (the known-key set is loaded and lacks it). */
  mayExist(key: string): boolean {
    return this.known === null || this.known.has(key);
  }

  /** After a failed write the disk may still hold a record the set dropped: count it as possibly present. */
  markMayExist(key: string): void {
    this.known?.add(key);
  }

  /** Number of stored mailboxes (from the known-key set when loaded). */
  get knownCount(): number | null {
    return this.known === null ? null : this.known.size;
  }

  async loadMailbox(key: string): Promise<MailboxRecord | undefined> {
    if (!this.mayExist(key)) return undefined;
    return (await this.boxes.get(key)) as MailboxRecord | undefined;
  }

  /** Several records in one LevelDB multi-get (undefined where none is stored). */
  async loadMailboxes(keys: readonly string[]): Promise<Array<MailboxRecord | undefined>> {
    const asked = keys.filter((k) => this.mayExist(k));
    const got = asked.length ? ((await this.boxes.getMany(asked as string[])) as Array<MailboxRecord | undefined>) : [];
    const byKey = new Map(asked.map((k, i) => [k, got[i]]));
    return keys.map((k) => byKey.get(k));
  }

  /** Ops that replace a mailbox's record (null = delete) and move its due-index entry. */
  mailboxOps(key: string, record: MailboxRecord | null, previousDeadline: number | null): BatchOp[] {
    const ops: BatchOp[] = [];
    const next = record?.deadline ?? null;
    if (previousDeadline !== null && previousDeadline !== next) ops.push({ type: 'del', key: dueKey(previousDeadline, key), sublevel: this.due });
    if (next !== null && next !== previousDeadline) ops.push({ type: 'put', key: dueKey(next, key), value: 1, sublevel: this.due });
    ops.push(record ? { type: 'put', key, value: record, sublevel: this.boxes } : { type: 'del', key, sublevel: this.boxes });
    // Callers queue these ops right away (same tick); the committer applies them in order, so the set follows.
    if (record) this.known?.add(key);
    else this.known?.delete(key);
    return ops;
  }

  hydratedOps(eventIds: readonly string[], now: number): BatchOp[] {
    return eventIds.map((id) => ({ type: 'put', key: id, value: now, sublevel: this.hydrated }));
  }

  /** Every stored block as [recipient id, sender block ref] (refs never contain '|': "ref:" + hex). */
  async loadBlocks(): Promise<Array<[string, string]>> {
    const out: Array<[string, string]> = [];
    for await (const k of this.blocks.keys() as AsyncIterable<string>) {
      const i = k.lastIndexOf('|');
      out.push([k.slice(0, i), k.slice(i + 1)]);
    }
    return out;
  }

  blockOps(recipientId: string, ref: string, blocked: boolean): BatchOp[] {
    const key = `${recipientId}|${ref}`;
    return [blocked ? { type: 'put', key, value: 1, sublevel: this.blocks } : { type: 'del', key, sublevel: this.blocks }];
  }

  /** Which of `eventIds` were hydrated already: one LevelDB multi-get for a whole page of events. */
  async hydratedAmong(eventIds: readonly string[]): Promise<boolean[]> {
    if (!eventIds.length) return [];
    return (await this.hydrated.getMany(eventIds as string[])).map((v) => v !== undefined);
  }

  /** Mailbox keys whose deadline is ≤ now, oldest first. */
  async dueMailboxes(now: number, limit = 1000): Promise<string[]> {
    const out: string[] = [];
    const lt = `${(Math.floor(now) + 1).toString().padStart(12, '0')}|`;
    for await (const k of this.due.keys({ lt, limit }) as AsyncIterable<string>) out.push(k.slice(k.indexOf('|') + 1));
    return out;
  }

  async mailboxCount(): Promise<number> {
    let n = 0;
    for await (const _k of this.boxes.keys() as AsyncIterable<string>) n++;
    return n;
  }

  write(ops: BatchOp[]): Promise<void> {
    return this.committer.write(ops);
  }
}
