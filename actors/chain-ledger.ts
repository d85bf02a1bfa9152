// The chain actor's working state: the in-memory derived ChainState plus the durable store. Each
// operation decides with protocol/ (pure), applies to memory, and hands one batch to the group
// committer; callers get a promise that resolves only when that batch is on disk. The synchronous
// decide+apply step is what serialises the chain; durability waits overlap (group commit).
import type { AppendInput } from '../protocol/append-rules.js';
import { validateLocalAppend, type AppendOptions } from '../protocol/append-rules.js';
import { applyEvent, dmDomains, rebuildChainState, signedWriteDomains, type ChainState } from '../protocol/chain-state.js';
import type { Clock } from '../protocol/clock.js';
import { GENESIS_HASH } from '../protocol/constants.js';
import { ErrorCodes, InfonetError, type Rejection } from '../protocol/errors.js';
import type { ChainEvent } from '../protocol/event.js';
import { planFork, validateForkEvents } from '../protocol/fork-rules.js';
import { validateAndSetSignedWriteSequence } from '../protocol/sequence-domains.js';
import type { ChainSettings } from '../protocol/settings.js';
import { validateReceivedEvent, type ValidationContext } from '../protocol/validate-event.js';
import { checkStoredEvent, corruptStoreError, type ChainMeta, type ChainStore } from '../store/chain-store.js';

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
    // One pass: re-hash and re-link every stored event (§3.2.1) while rebuilding the derived state.
    const state = rebuildChainState([], { dm: meta.dmDomains, signedWrites: meta.signedWrites });
    for await (const ev of store.iterate()) {
      const problem = checkStoredEvent(ev, state.head);
      if (problem) throw corruptStoreError(store.db.location, state.length, problem);
      applyEvent(state, ev);
    }
    if (state.length !== meta.length || state.head !== meta.head) {
      throw corruptStoreError(store.db.location, state.length, `head record (length ${meta.length}) does not match the event log (length ${state.length})`);
    }
    return new ChainLedger(store, state, settings, clock);
  }

  get length(): number { return this.state.length; }
  get head(): string { return this.state.head; }
  /** Read-only view for queries (status, tests). */
  get view(): Readonly<ChainState> { return this.state; }

  private ctx(maxAgeS?: number, signatureVerdicts?: WeakMap<object, boolean>): ValidationContext {
    return { settings: this.settings, clock: this.clock, ...(maxAgeS !== undefined ? { maxAgeS } : {}), ...(signatureVerdicts ? { signatureVerdicts } : {}) };
  }

  /** The persisted domain tables change only with DM events and signed writes: rebuild them only then. */
  private domainTables: Pick<ChainMeta, 'dmDomains' | 'signedWrites'> | null = null;

  private meta(domainsChanged = true): ChainMeta {
    if (domainsChanged || !this.domainTables) this.domainTables = { dmDomains: dmDomains(this.state), signedWrites: signedWriteDomains(this.state) };
    return { length: this.state.length, head: this.state.head, ...this.domainTables };
  }

  /** Decide + apply + enqueue; returns the durability promise. Throws InfonetError on rejection. */
  appendSigned(input: AppendInput, opts: AppendOptions = {}): { event: ChainEvent; durable: Promise<void> } {
    const v = validateLocalAppend(this.state, input, this.ctx(), opts);
    if (v.kind !== 'accepted') throw rejectionError(v.kind === 'rejected' ? v.rejection : { code: ErrorCodes.INTERNAL, reason: 'duplicate' });
    const height = this.state.length;
    applyEvent(this.state, v.event);
    return { event: v.event, durable: this.store.write(this.store.appendOps(height, [v.event], this.meta(v.event.event_type === 'dm_message'))) };
  }

  ingest(events: readonly unknown[], maxAgeS?: number, signatureVerdicts?: WeakMap<object, boolean>): { outcome: IngestOutcome; durable: Promise<void> } {
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
      ? this.store.write(this.store.appendOps(height, outcome.events, this.meta(outcome.events.some((e) => e.event_type === 'dm_message'))))
      : Promise.resolve();
    return { outcome, durable };
  }

  /** §9.3 fork application; async because the prefix state is rebuilt from the store. */
  async applyFork(events: readonly unknown[], headHash: string, proofCount: number, quorum: number): Promise<{ ok: boolean; reason: string }> {
    const plan = planFork(this.state, events, headHash, proofCount, quorum, GENESIS_HASH);
    if ('reason' in plan) return { ok: false, reason: plan.reason };
    const keep = plan.ancestorHeight + 1;
    const prefixEvents = await this.store.readRange(0, keep);
    const saved = this.meta();
    const prefix = rebuildChainState(prefixEvents, { dm: saved.dmDomains, signedWrites: saved.signedWrites });
    const accepted = validateForkEvents(prefix, events, this.ctx());
    if (!Array.isArray(accepted)) return { ok: false, reason: accepted.reason };
    const dropped = await this.store.readRange(keep, this.state.length - keep);
    const oldLength = this.state.length;
    this.state = prefix;
    const ops = [...this.store.truncateOps(keep, dropped.map((e) => e.event_id), oldLength), ...this.store.appendOps(keep, accepted, this.meta())];
    await this.store.write(ops);
    return { ok: true, reason: 'applied' };
  }

  /** Fork recovery for small chains (§9.3 client loop): back to genesis. [tightening] keeps signed-write domains (§3.2.7). */
  async resetToGenesis(): Promise<void> {
    const all = await this.store.readRange(0, this.state.length);
    const saved = this.meta();
    const oldLength = this.state.length;
    this.state = rebuildChainState([], { dm: saved.dmDomains, signedWrites: saved.signedWrites });
    await this.store.write([...this.store.truncateOps(0, all.map((e) => e.event_id), oldLength), ...this.store.appendOps(0, [], this.meta())]);
  }

  /** Off-chain signed-write replay protection (dm_send, dm_poll, …), persisted durably. */
  checkSignedWrite(nodeId: string, sequence: unknown, domain: string): { durable: Promise<void> } {
    const bad = validateAndSetSignedWriteSequence(this.state, nodeId, sequence, domain);
    if (bad) throw rejectionError(bad);
    return { durable: this.store.write(this.store.appendOps(this.state.length, [], this.meta())) };
  }
}

export function rejectionError(r: Rejection): InfonetError {
  return new InfonetError(r.code, r.reason);
}
