// The chain actor: one per chain, the only writer. It is an honest serialising queue, not a state
// machine: every command is a synchronous decide+apply step run strictly in call order (their
// durability waits overlap through group commit), and fork application / reset run exclusively. An
// XState machine added nothing here but indirection — the queue entries hold closures and pending
// crypto promises, which a machine could neither persist nor inspect, and the only states (ready,
// exclusive, stopped) are a field. What outlives a run is a plain control record (height, head,
// commands, clean stop) in the `actor-snapshots` sublevel; the chain itself is rebuilt from LevelDB.
import { Subject, type Observable } from 'rxjs';
import type { AppendInput, AppendRoute, PreparedPayload } from '../protocol/append-rules.js';
import { prepareLocalPayload, signAppend } from '../protocol/local-sign.js';
import { domainOfEventType, lastSequence } from '../protocol/sequence-domains.js';
import { signatureText } from '../protocol/signature-payload.js';
import { signEd25519 } from '../protocol/signatures.js';
import { systemClock, type Clock } from '../protocol/clock.js';
import { ErrorCodes, InfonetError } from '../protocol/errors.js';
import type { ChainEvent } from '../protocol/event.js';
import type { Identity } from '../protocol/identity.js';
import type { ChainSettings } from '../protocol/settings.js';
import { ChainStore } from '../store/chain-store.js';
import { sublevel, type Db } from '../store/db.js';
import { ChainLedger, type IngestOutcome } from './chain-ledger.js';
import { CryptoPool, POOL_MIN_BATCH, type SignSink } from './crypto-pool.js';

const INGEST_CHUNK = 256;

class PrepareFailure {
  constructor(readonly error: unknown) {}
}

/** A decide+apply step, possibly waiting for its parallel preparation (signature checks, a signature) first. */
interface StepEntry {
  kind: 'step';
  /** True while its preparation is outstanding (see ChainActor.prepared). */
  pending: boolean;
  prepared: unknown;
  run(prepared: unknown): void;
}

/** An applied step waiting for its group commit: told once, in apply order, when it is durable or failed. */
interface DurableWaiter {
  durableDone(error: unknown): void;
}

/**
 * One local append in flight, as one object: its queue entry, signature sink and durability waiter (the
 * generic runSync path costs ~8 closures and promises per step, and 2,048 of them alive under load are
 * what the young-generation GC copies).
 */
class LocalAppend implements StepEntry, SignSink, DurableWaiter {
  readonly kind = 'step';
  pending = false;
  prepared: unknown = undefined;
  event: ChainEvent | null = null;
  resolve!: (e: ChainEvent) => void;
  reject!: (e: unknown) => void;

  constructor(
    private readonly actor: ChainActor,
    readonly id: Identity,
    readonly eventType: string,
    readonly payload: Record<string, unknown>,
    readonly sequence: number,
    readonly timestamp: number,
    public pre: PreparedPayload | null,
    public text: string | null,
  ) {}

  run(prepared: unknown): void { this.actor.applyLocal(this, prepared); }
  signed(signature: string): void { this.actor.prepared(this, signature); }
  signFailed(error: unknown): void { this.actor.prepared(this, new PrepareFailure(error)); }
  durableDone(error: unknown): void { this.actor.localDurable(this, error); }
}

/** Fork application or reset: runs alone, after every earlier step is durable. */
interface ExclusiveEntry {
  kind: 'exclusive';
  run: () => Promise<void>;
}

type QueueEntry = StepEntry | ExclusiveEntry;

/** One waiter that throws must not leave the later ones unanswered; its error surfaces as before (unhandled rejection). */
function tellAll(waiters: readonly DurableWaiter[], error: unknown): void {
  for (const w of waiters) {
    try {
      w.durableDone(error);
    } catch (e) {
      void Promise.reject(e);
    }
  }
}

export type ChainNotice =
  | { kind: 'appended'; event: ChainEvent }
  | { kind: 'ingested'; events: ChainEvent[]; duplicates: number; rejected: IngestOutcome['rejected'] }
  | { kind: 'forked'; length: number; head: string }
  | { kind: 'rejected'; command: string; code: string; reason: string };

export interface PreviousRun {
  cleanStop: boolean;
  length: number;
  head: string;
}

/** The persisted control record (format kept from the earlier XState snapshot). */
interface ControlRecord {
  context?: { length: number; head: string; commands?: number };
  clean?: boolean;
}

export interface ChainActorOptions {
  db: Db;
  settings: ChainSettings;
  clock?: Clock;
  /** Heights between derived-state snapshots (default store/chain-snapshot.ts; tests use small values). */
  snapshotEvery?: number;
}

export class ChainActor {
  private readonly notices = new Subject<ChainNotice>();
  /** Everything that happens to the chain, published after it is durable. */
  readonly events$: Observable<ChainNotice> = this.notices.asObservable();
  private stopped = false;
  private failure: Error | null = null;
  private pool: CryptoPool | null = null;
  /** Highest sequence handed out per `<node>|<domain>` for local appends not yet applied. */
  private readonly reserved = new Map<string, number>();

  private readonly queue: QueueEntry[] = [];
  private draining = false;
  /** Set while drain waits for the head entry's preparation. */
  private wake: (() => void) | null = null;
  /** The group commit the last applied step waits for, and every step waiting for it, in apply order. */
  private durableOf: Promise<void> | null = null;
  private durableWaiters: DurableWaiter[] = [];
  private mode: 'ready' | 'exclusive' = 'ready';
  private commands = 0;

  private constructor(
    readonly ledger: ChainLedger,
    private readonly db: Db,
    readonly previousRun: PreviousRun | null,
  ) {}

  static async start(opts: ChainActorOptions): Promise<ChainActor> {
    const store = new ChainStore(opts.db, undefined, opts.snapshotEvery !== undefined ? { snapshotEvery: opts.snapshotEvery } : {});
    const ledger = await ChainLedger.open(store, opts.settings, opts.clock ?? systemClock);
    const snapshots = sublevel(opts.db, 'actor-snapshots');
    const saved = (await snapshots.get('chain')) as ControlRecord | undefined;
    const previousRun = saved?.context ? { cleanStop: saved.clean === true, length: saved.context.length, head: saved.context.head } : null;
    // Mark the run as in progress: an unclean stop (kill -9) is visible at the next start.
    await snapshots.put('chain', { context: { length: ledger.length, head: ledger.head }, clean: false });
    return new ChainActor(ledger, opts.db, previousRun);
  }

  get length(): number { return this.ledger.length; }
  get head(): string { return this.ledger.head; }
  get state(): 'ready' | 'exclusive' | 'stopped' { return this.stopped ? 'stopped' : this.mode; }

  private guard(): void {
    if (this.failure) throw new InfonetError(ErrorCodes.UNAVAILABLE, `chain is failed: ${this.failure.message}`);
    if (this.stopped) throw new InfonetError(ErrorCodes.UNAVAILABLE, 'chain is stopping');
  }

  /**
   * Run a synchronous decide+apply step in call order; resolve after its batch is durable. A step may
   * first wait for an asynchronous preparation (parallel signature checks) without losing its place.
   */
  private runSync<T, P = undefined>(
    command: string,
    step: (prepared: P) => { value: T; durable: Promise<void> },
    publish: (v: T) => void,
    prepare?: Promise<P>,
  ): Promise<T> {
    this.guard();
    return new Promise<T>((resolve, reject) => {
      const run = (prepared: unknown): void => {
        let r: { value: T; durable: Promise<void> };
        try {
          if (prepared instanceof PrepareFailure) throw prepared.error;
          r = step(prepared as P);
        } catch (e) {
          this.rejected(command, e);
          reject(e);
          return;
        }
        this.awaitDurable(r.durable, {
          durableDone: (e: unknown) => {
            if (e === undefined) {
              publish(r.value);
              resolve(r.value);
            } else {
              this.fail(e as Error);
              reject(e);
            }
          },
        });
      };
      const entry: StepEntry = { kind: 'step', pending: false, prepared: undefined, run };
      if (prepare) {
        entry.pending = true;
        prepare.then((v) => this.prepared(entry, v), (error: unknown) => this.prepared(entry, new PrepareFailure(error)));
      }
      this.enqueue(entry);
    });
  }

  private rejected(command: string, e: unknown): void {
    if (e instanceof InfonetError) this.notices.next({ kind: 'rejected', command, code: e.code, reason: e.reason });
  }

  /** A step's preparation is done (a value or a PrepareFailure); wakes the drain loop if it waits for this one. */
  prepared(entry: StepEntry, value: unknown): void {
    entry.prepared = value;
    entry.pending = false;
    if (this.wake !== null && this.queue[0] === entry) {
      const wake = this.wake;
      this.wake = null;
      wake();
    }
  }

  /**
   * Tell `waiter` when `durable` settles. Steps of one group commit share its promise: one reaction per
   * group, and the waiters are told in apply order (groups settle in order too).
   */
  private awaitDurable(durable: Promise<void>, waiter: DurableWaiter): void {
    if (durable !== this.durableOf) {
      const waiters: DurableWaiter[] = [];
      this.durableOf = durable;
      this.durableWaiters = waiters;
      durable.then(() => tellAll(waiters, undefined), (e: unknown) => tellAll(waiters, e ?? new Error('durable write failed')));
    }
    this.durableWaiters.push(waiter);
  }

  private runExclusive<T>(fn: () => Promise<T>): Promise<T> {
    this.guard();
    return new Promise<T>((resolve, reject) => {
      this.enqueue({ kind: 'exclusive', run: () => fn().then(resolve, reject) });
    });
  }

  private enqueue(entry: QueueEntry): void {
    this.queue.push(entry);
    if (!this.draining) {
      this.draining = true;
      queueMicrotask(() => void this.drain());
    }
  }

  /**
   * The one loop that touches the chain. Consecutive steps whose preparation is done run back to back
   * in one synchronous pass; an exclusive entry waits for earlier batches to be durable (it reads the
   * store) and holds the queue until it is done.
   */
  private async drain(): Promise<void> {
    try {
      while (this.queue.length) {
        const head = this.queue[0];
        if (head.kind === 'exclusive') {
          this.queue.shift();
          this.mode = 'exclusive';
          try {
            await this.ledger.store.committer.drain();
            await head.run();
          } finally {
            this.mode = 'ready';
            this.commands++;
          }
          continue;
        }
        if (head.pending) {
          await new Promise<void>((resolve) => { this.wake = resolve; });
          continue;
        }
        while (this.queue.length) {
          const next = this.queue[0];
          if (next.kind !== 'step' || next.pending) break;
          this.queue.shift();
          next.run(next.prepared);
          this.commands++;
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private fail(e: Error): void {
    // A failed durable write leaves memory ahead of disk: refuse further work; a restart rebuilds from disk.
    this.failure ??= e;
  }

  /** §2.8 public append of an externally signed event: gate_message / dm_message → `Unsupported event_type: <type>`. */
  appendPublic(input: AppendInput): Promise<ChainEvent> {
    return this.append(input, { route: 'public' });
  }

  /** §4.5 private gate append of an externally signed event (only gate_message). */
  appendGate(input: AppendInput): Promise<ChainEvent> {
    return this.append(input, { route: 'gate' });
  }

  /** §5.6 private DM append of an externally signed event (only dm_message). */
  appendDm(input: AppendInput): Promise<ChainEvent> {
    return this.append(input, { route: 'dm' });
  }

  /**
   * Append an externally signed event on the given route; without a route the type picks the rules
   * (kept for callers that have not moved to the three routes above).
   */
  append(input: AppendInput, opts: { route?: AppendRoute } = {}): Promise<ChainEvent> {
    return this.runSync('append', () => {
      const r = this.ledger.appendSigned(input, opts.route ? { route: opts.route } : {});
      return { value: r.event, durable: r.durable };
    }, (event) => this.notices.next({ kind: 'appended', event }));
  }

  /**
   * Sign with a key held in-process and append. The sequence (default: next in the author's domain) is
   * reserved at call time, so under load the signature can be made on a worker thread while earlier
   * appends are validated; a rejected append only leaves a gap, which sequences allow. The payload is
   * normalised and canonicalised once, here (prepareLocalPayload): the signed text and the stored event
   * come from that one form, and the ordered step re-runs every check on it but not the normaliser.
   */
  appendLocal(id: Identity, eventType: string, payload: Record<string, unknown>, sequence?: number): Promise<ChainEvent> {
    this.guard(); // before reserving a sequence or starting the pool
    const domain = domainOfEventType(eventType);
    const key = `${id.nodeId}|${domain}`;
    const seq = sequence ?? Math.max(lastSequence(this.ledger.view, id.nodeId, domain), this.reserved.get(key) ?? 0) + 1;
    if (sequence === undefined) this.reserved.set(key, seq);
    const pre = prepareLocalPayload(eventType, payload);
    const text = pre ? signatureText(eventType, id.nodeId, seq, pre.signedJson) : null;
    const entry = new LocalAppend(this, id, eventType, payload, seq, this.ledger.clock(), pre, text);
    const done = new Promise<ChainEvent>((resolve, reject) => {
      entry.resolve = resolve;
      entry.reject = reject;
    });
    // Under load the signature comes from the pool (entry.signed); the input is assembled in the ordered step.
    if (text !== null && this.queue.length >= POOL_MIN_BATCH) {
      entry.pending = true;
      (this.pool ??= new CryptoPool()).signInto(id.seed, text, entry);
    }
    this.enqueue(entry);
    return done;
  }

  /** The ordered step of a local append: sign inline unless the pool did, then validate and apply. */
  applyLocal(a: LocalAppend, prepared: unknown): void {
    try {
      if (prepared instanceof PrepareFailure) throw prepared.error;
      const signature = (prepared as string | undefined) ?? (a.text !== null ? signEd25519(a.id.privateKey, a.text) : undefined);
      const id = a.id;
      // A payload the normaliser refused goes the plain way: the validator rejects it with the usual error.
      const input: AppendInput = signature === undefined
        ? signAppend(id, a.eventType, a.payload, a.sequence, a.timestamp)
        : { event_type: a.eventType, node_id: id.nodeId, payload: a.payload, sequence: a.sequence, public_key: id.publicKey, public_key_algo: id.publicKeyAlgo, timestamp: a.timestamp, signature };
      const r = this.ledger.appendSigned(input, a.pre ? { trustedSignature: true, prepared: a.pre } : { trustedSignature: true });
      a.event = r.event;
      // Until its group commit, keep only what the caller gets back (fewer bytes for the young-generation GC to copy).
      a.pre = null;
      a.text = null;
      a.prepared = undefined;
      this.awaitDurable(r.durable, a);
    } catch (e) {
      this.rejected('append', e);
      a.reject(e);
    }
  }

  localDurable(a: LocalAppend, error: unknown): void {
    if (error !== undefined) {
      this.fail(error as Error);
      a.reject(error);
      return;
    }
    const event = a.event as ChainEvent;
    this.notices.next({ kind: 'appended', event });
    a.resolve(event);
  }

  /**
   * Ingest a batch (§9.2). Large batches are cut into chunks whose signatures are checked on worker
   * threads while earlier chunks are validated and written, so verification overlaps the ordered pass.
   */
  async ingest(events: readonly unknown[], maxAgeS?: number): Promise<IngestOutcome> {
    this.guard();
    const chunks: Array<readonly unknown[]> = [];
    for (let i = 0; i < events.length; i += INGEST_CHUNK) chunks.push(events.slice(i, i + INGEST_CHUNK));
    if (chunks.length === 0) chunks.push([]);
    const parts = chunks.map((chunk) => {
      const verdicts = chunk.length >= POOL_MIN_BATCH ? (this.pool ??= new CryptoPool()).verifyEvents(chunk) : undefined;
      return this.runSync('ingest', (v: WeakMap<object, boolean> | undefined) => {
        const r = this.ledger.ingest(chunk, maxAgeS, v);
        return { value: r.outcome, durable: r.durable };
      }, (o) => {
        if (o.accepted || o.rejected.length) this.notices.next({ kind: 'ingested', events: o.events, duplicates: o.duplicates, rejected: o.rejected });
      }, verdicts);
    });
    const outcomes = await Promise.all(parts);
    const merged: IngestOutcome = { accepted: 0, duplicates: 0, rejected: [], events: [] };
    outcomes.forEach((o, c) => {
      merged.accepted += o.accepted;
      merged.duplicates += o.duplicates;
      for (const r of o.rejected) merged.rejected.push({ ...r, index: r.index + c * INGEST_CHUNK });
      merged.events.push(...o.events);
    });
    return merged;
  }

  checkSignedWrite(nodeId: string, sequence: unknown, domain: string): Promise<void> {
    return this.runSync('signed-write', () => ({ value: undefined, durable: this.ledger.checkSignedWrite(nodeId, sequence, domain).durable }), () => {});
  }

  applyFork(events: readonly unknown[], headHash: string, proofCount: number, quorum: number): Promise<{ ok: boolean; reason: string }> {
    return this.runExclusive(async () => {
      const r = await this.ledger.applyFork(events, headHash, proofCount, quorum);
      if (r.ok) this.notices.next({ kind: 'forked', length: this.ledger.length, head: this.ledger.head });
      return r;
    });
  }

  resetToGenesis(): Promise<void> {
    return this.runExclusive(async () => {
      await this.ledger.resetToGenesis();
      this.notices.next({ kind: 'forked', length: 0, head: this.ledger.head });
    });
  }

  /**
   * §9.3 fork recovery (engineer E, docs/sync.md): reset to genesis and ingest a peer's chain as ONE exclusive
   * operation, so no local append lands on the empty chain in between. The caller has already made the local
   * events it replaces durable elsewhere (actors/sync-rebuild.ts kept-aside set) for the head it read:
   * `expectedHead` — if an append moved the head since, nothing is changed (FORK error; retried next cycle).
   * All or nothing: a rebuild is a fork application, so the §3.4 freshness bound does not apply (maxAgeS 0);
   * if any peer event is rejected anyway, the previous chain is put back in the same exclusive step.
   */
  rebuildFrom(events: readonly unknown[], expectedHead?: string): Promise<IngestOutcome> {
    return this.runExclusive(async () => {
      if (expectedHead !== undefined && this.ledger.head !== expectedHead) {
        throw new InfonetError(ErrorCodes.FORK, 'local chain moved during the fork rebuild; nothing changed');
      }
      const previous = await this.ledger.store.readRange(0, this.ledger.length);
      await this.ledger.resetToGenesis();
      const r = this.ledger.ingest(events, 0);
      await r.durable.catch((e: Error) => { this.fail(e); throw e; });
      if (r.outcome.rejected.length) {
        await this.ledger.resetToGenesis();
        const back = this.ledger.ingest(previous, 0);
        await back.durable.catch((e: Error) => { this.fail(e); throw e; });
        if (back.outcome.accepted !== previous.length) this.fail(new Error('fork rebuild could not restore the previous chain'));
        return { accepted: 0, duplicates: 0, rejected: r.outcome.rejected, events: [] };
      }
      this.notices.next({ kind: 'forked', length: this.ledger.length, head: this.ledger.head });
      if (r.outcome.accepted || r.outcome.rejected.length) {
        this.notices.next({ kind: 'ingested', events: r.outcome.events, duplicates: r.outcome.duplicates, rejected: r.outcome.rejected });
      }
      return r.outcome;
    });
  }

  readRange(from: number, limit: number): Promise<ChainEvent[]> {
    return this.ledger.store.readRange(from, limit);
  }

  /** The next free sequence for `nodeId` in the domain of `eventType` (§3.1), counting reserved local appends. */
  nextSequence(nodeId: string, eventType: string): number {
    const domain = domainOfEventType(eventType);
    return Math.max(lastSequence(this.ledger.view, nodeId, domain), this.reserved.get(`${nodeId}|${domain}`) ?? 0) + 1;
  }

  heightOf(eventId: string): number | undefined {
    return this.ledger.view.eventIndex.get(eventId);
  }

  /** The id at `height` from the in-memory index (slot = height for a chain built by appending; checked). */
  idAt(height: number): string | undefined {
    const index = this.ledger.view.eventIndex;
    if (!Number.isInteger(height) || height < 0 || height >= this.ledger.length || height >= index.size) return undefined;
    const id = index.idAt(height);
    return index.get(id) === height ? id : undefined;
  }

  /** Finish in-flight work, flush, persist the control record and stop. The db stays open (owned by the caller). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.ledger.stopBackground();
    while (this.draining) await new Promise<void>((r) => setImmediate(r));
    await this.ledger.store.committer.drain();
    const record: ControlRecord = { context: { length: this.ledger.length, head: this.ledger.head, commands: this.commands }, clean: this.failure === null };
    await sublevel(this.db, 'actor-snapshots').put('chain', record);
    await this.pool?.close();
    this.notices.complete();
  }
}
