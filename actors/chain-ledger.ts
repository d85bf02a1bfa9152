// The chain actor's working state: the in-memory derived ChainState plus the durable store. Each
// operation decides with protocol/ (pure), applies to memory, and hands one batch to the group
// committer; callers get a promise that resolves only when that batch is on disk. The synchronous
// decide+apply step is what serialises the chain; durability waits overlap (group commit).
import type { AppendInput } from '../protocol/append-rules.js';
import { validateLocalAppend, type AppendOptions } from '../protocol/append-rules.js';
import { applyEvent, dmDomains, persistedDomains, rebuildChainState, signedWriteDomains, type ChainState } from '../protocol/chain-state.js';
import type { Clock } from '../protocol/clock.js';
import { GENESIS_HASH } from '../protocol/constants.js';
import { ErrorCodes, InfonetError, type Rejection } from '../protocol/errors.js';
import type { ChainEvent } from '../protocol/event.js';
import { planFork, validateForkEvents } from '../protocol/fork-rules.js';
import { domainKey, validateAndSetSignedWriteSequence } from '../protocol/sequence-domains.js';
import type { ChainSettings } from '../protocol/settings.js';
import { validateReceivedEvent, type ValidationContext } from '../protocol/validate-event.js';
import { checkStoredEvent, corruptStoreError, type ChainMetaUpdate, type ChainStore, type DomainCounter } from '../store/chain-store.js';
import type { DecodedSnapshot } from '../store/chain-snapshot.js';
import { collectGarbage } from './collect-garbage.js';

/** Events decoded per read by the background re-hash: a small batch is dead before V8 would promote it. */
const PREFIX_READ_BATCH = 64;

export type IntegrityStatus =
  | { status: 'verifying' | 'verified'; verifiedUpTo: number }
  | { status: 'failed'; verifiedUpTo: number; error: InfonetError };

/** The persisted domain counters on top of a snapshot's state, as rebuildChainState applies them (§3.2). */
function applySavedDomains(state: ChainState, saved: { dm?: Record<string, number>; signedWrites?: Record<string, number> }): void {
  for (const [k, v] of Object.entries(saved.dm ?? {})) {
    if (k.endsWith('|dm_message') && v > (state.sequenceDomains.get(k) ?? 0)) state.sequenceDomains.set(k, v);
  }
  for (const [k, v] of Object.entries(saved.signedWrites ?? {})) state.sequenceDomains.set(k, v);
}

export interface IngestResult {
  accepted: number;
  duplicates: number;
  rejected: Array<{ index: number; reason: string; code?: string }>;
}

export interface IngestOutcome extends IngestResult {
  /** The accepted events (chain-resident copies), for hydration and publishing. */
  events: ChainEvent[];
}

export class ChainLedger {
  private constructor(
    readonly store: ChainStore,
    private state: ChainState,
    readonly settings: ChainSettings,
    readonly clock: Clock,
  ) {}

  static async open(store: ChainStore, settings: ChainSettings, clock: Clock): Promise<ChainLedger> {
    const meta = await store.readMeta();
    const seeds = { dm: meta.dmDomains, signedWrites: meta.signedWrites };
    // Fast path (issue 14): start from the hashed derived-state snapshot when its head event is still
    // at its height and hashes right; only the tail after it is re-hashed here (§3.2.1), the prefix
    // below it by a background pass. Otherwise one pass re-hashes and re-links every stored event.
    let state: ChainState | null = null;
    let snapshot: DecodedSnapshot | null = null;
    const snap = await store.readSnapshot();
    if (snap && snap.length > 0 && snap.length <= meta.length) {
      const [last] = await store.readRange(snap.length - 1, 1);
      if (last && last.event_id === snap.state.head && checkStoredEvent(last, last.prev_hash) === null) {
        state = snap.state;
        applySavedDomains(state, seeds);
        snapshot = snap;
        store.adoptSnapshot(snap);
      }
    }
    state ??= rebuildChainState([], seeds);
    for await (const ev of store.iterate(state.length)) {
      const problem = checkStoredEvent(ev, state.head);
      if (problem) throw corruptStoreError(store.db.location, state.length, problem);
      applyEvent(state, ev);
    }
    if (state.length !== meta.length || state.head !== meta.head) {
      throw corruptStoreError(store.db.location, state.length, `head record (length ${meta.length}) does not match the event log (length ${state.length})`);
    }
    const ledger = new ChainLedger(store, state, settings, clock);
    ledger.migrateDomains = store.legacyDomainTables;
    if (snapshot) {
      collectGarbage(); // the snapshot's decode garbage (see actors/collect-garbage.ts)
      ledger.startPrefixCheck(snapshot);
    }
    else ledger.integrity = { status: 'verified', verifiedUpTo: state.length };
    return ledger;
  }

  /** Open-time check coverage; `failed` means a stored event below the snapshot is corrupt. */
  integrity: IntegrityStatus = { status: 'verifying', verifiedUpTo: 0 };
  private prefixCheck: { stop: boolean; done: Promise<void> } | null = null;

  /**
   * Re-hash and re-link heights below the snapshot in the background (T74 for old events): a bad one
   * marks the ledger failed, and every later write is refused with the store_corrupt error naming its
   * height (the node keeps serving reads; restart with --quarantine-corrupt to re-sync).
   */
  private startPrefixCheck(snap: DecodedSnapshot): void {
    const end = snap.length;
    const check = { stop: false, done: Promise.resolve() };
    check.done = (async () => {
      let prev = GENESIS_HASH;
      let h = 0;
      try {
        for await (const ev of this.store.iterate(0, end, PREFIX_READ_BATCH)) {
          if (check.stop) return;
          const problem = checkStoredEvent(ev, prev) ?? (ev.event_id !== snap.idAt(h) ? 'event_id differs from the snapshot index' : null);
          if (problem) {
            this.integrity = { status: 'failed', verifiedUpTo: h, error: corruptStoreError(this.store.db.location, h, problem) };
            return;
          }
          prev = ev.event_id;
          h++;
          if ((h & 1023) === 0) {
            this.integrity = { status: 'verifying', verifiedUpTo: h };
            await new Promise<void>((r) => setImmediate(r)); // let requests in between batches
          }
        }
        if (h !== end) {
          this.integrity = { status: 'failed', verifiedUpTo: h, error: corruptStoreError(this.store.db.location, h, 'event log shorter than the snapshot') };
          return;
        }
        this.integrity = { status: 'verified', verifiedUpTo: this.state.length };
      } catch (e) {
        if (check.stop) return;
        this.integrity = { status: 'failed', verifiedUpTo: h, error: corruptStoreError(this.store.db.location, h, `unreadable event (${(e as Error).message})`) };
      }
    })();
    this.prefixCheck = check;
  }

  /** Resolves once the background prefix check is over (verified or failed). */
  async integrityChecked(): Promise<IntegrityStatus> {
    await this.prefixCheck?.done;
    return this.integrity;
  }

  /** Stop the background check (before the database closes). */
  async stopBackground(): Promise<void> {
    if (!this.prefixCheck) return;
    this.prefixCheck.stop = true;
    await this.prefixCheck.done;
  }

  private assertIntact(): void {
    if (this.integrity.status === 'failed') throw this.integrity.error;
  }

  get length(): number { return this.state.length; }
  get head(): string { return this.state.head; }
  /** Read-only view for queries (status, tests). */
  get view(): Readonly<ChainState> { return this.state; }

  private ctx(maxAgeS?: number, signatureVerdicts?: WeakMap<object, boolean>): ValidationContext {
    return { settings: this.settings, clock: this.clock, ...(maxAgeS !== undefined ? { maxAgeS } : {}), ...(signatureVerdicts ? { signatureVerdicts } : {}) };
  }

  /**
   * Set while the store's header still holds an older version's domain tables: every write then carries every
   * counter (the header it writes has no tables), until one such write is durable.
   */
  private migrateDomains = false;

  /** The header, plus the persisted counters a write moved (`changed`; every counter while a migration is pending). */
  private metaUpdate(changed: readonly DomainCounter[]): ChainMetaUpdate {
    return { length: this.state.length, head: this.state.head, domains: this.migrateDomains ? persistedDomains(this.state) : changed };
  }

  /** The DM-domain counters accepted events moved (the only persisted counters events move). */
  private dmCounters(events: readonly ChainEvent[]): DomainCounter[] {
    const keys = new Set<string>();
    for (const e of events) if (e.event_type === 'dm_message') keys.add(domainKey(e.node_id, 'dm_message'));
    return [...keys].map((k) => [k, this.state.sequenceDomains.get(k) ?? 0] as const);
  }

  private write(ops: Parameters<ChainStore['write']>[0]): Promise<void> {
    const durable = this.store.write(ops);
    if (this.migrateDomains) void durable.then(() => { this.migrateDomains = false; }, () => undefined);
    return durable;
  }

  /** Decide + apply + enqueue; returns the durability promise. Throws InfonetError on rejection. */
  appendSigned(input: AppendInput, opts: AppendOptions = {}): { event: ChainEvent; durable: Promise<void> } {
    this.assertIntact();
    const v = validateLocalAppend(this.state, input, this.ctx(), opts);
    if (v.kind !== 'accepted') throw rejectionError(v.kind === 'rejected' ? v.rejection : { code: ErrorCodes.INTERNAL, reason: 'duplicate' });
    const height = this.state.length;
    applyEvent(this.state, v.event);
    return { event: v.event, durable: this.write(this.store.appendOps(height, [v.event], this.metaUpdate(this.dmCounters([v.event])), this.state)) };
  }

  ingest(events: readonly unknown[], maxAgeS?: number, signatureVerdicts?: WeakMap<object, boolean>): { outcome: IngestOutcome; durable: Promise<void> } {
    this.assertIntact();
    const outcome: IngestOutcome = { accepted: 0, duplicates: 0, rejected: [], events: [] };
    const height = this.state.length;
    const ctx = this.ctx(maxAgeS, signatureVerdicts);
    events.forEach((raw, index) => {
      const v = validateReceivedEvent(this.state, raw, ctx, 'ingest');
      if (v.kind === 'duplicate') outcome.duplicates++;
      else if (v.kind === 'rejected') outcome.rejected.push({ index, reason: v.rejection.reason, code: v.rejection.code });
      else {
        applyEvent(this.state, v.event);
        outcome.events.push(v.event);
        outcome.accepted++;
      }
    });
    const durable = outcome.accepted
      ? this.write(this.store.appendOps(height, outcome.events, this.metaUpdate(this.dmCounters(outcome.events)), this.state))
      : Promise.resolve();
    return { outcome, durable };
  }

  /** §9.3 fork application; async because the prefix state is rebuilt from the store. */
  async applyFork(events: readonly unknown[], headHash: string, proofCount: number, quorum: number): Promise<{ ok: boolean; reason: string }> {
    this.assertIntact();
    const plan = planFork(this.state, events, headHash, proofCount, quorum, GENESIS_HASH);
    if ('reason' in plan) return { ok: false, reason: plan.reason };
    const keep = plan.ancestorHeight + 1;
    const prefixEvents = await this.store.readRange(0, keep);
    const prefix = rebuildChainState(prefixEvents, { dm: dmDomains(this.state), signedWrites: signedWriteDomains(this.state) });
    const accepted = validateForkEvents(prefix, events, this.ctx());
    if (!Array.isArray(accepted)) return { ok: false, reason: accepted.reason };
    const dropped = await this.store.readRange(keep, this.state.length - keep);
    const oldLength = this.state.length;
    this.state = prefix;
    const ops = [...this.store.truncateOps(keep, dropped.map((e) => e.event_id), oldLength), ...this.store.appendOps(keep, accepted, this.metaUpdate(persistedDomains(this.state)))];
    await this.write(ops);
    return { ok: true, reason: 'applied' };
  }

  /** Fork recovery for small chains (§9.3 client loop): back to genesis. [tightening] keeps signed-write domains (§3.2.7). */
  async resetToGenesis(): Promise<void> {
    const all = await this.store.readRange(0, this.state.length);
    const oldLength = this.state.length;
    this.state = rebuildChainState([], { dm: dmDomains(this.state), signedWrites: signedWriteDomains(this.state) });
    await this.write([...this.store.truncateOps(0, all.map((e) => e.event_id), oldLength), ...this.store.appendOps(0, [], this.metaUpdate(persistedDomains(this.state)))]);
  }

  /** Off-chain signed-write replay protection (dm_send, dm_poll, …), persisted durably. */
  checkSignedWrite(nodeId: string, sequence: unknown, domain: string): { durable: Promise<void> } {
    this.assertIntact();
    const bad = validateAndSetSignedWriteSequence(this.state, nodeId, sequence, domain);
    if (bad) throw rejectionError(bad);
    const key = domainKey(nodeId, domain);
    return { durable: this.write(this.store.appendOps(this.state.length, [], this.metaUpdate([[key, this.state.sequenceDomains.get(key) ?? 0]]))) };
  }
}

export function rejectionError(r: Rejection): InfonetError {
  return new InfonetError(r.code, r.reason);
}
