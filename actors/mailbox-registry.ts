// The DM relay (spec §7) as a registry of mailbox actors (live set: actors/mailbox-actors.ts). Commands decide
// with protocol/ (deposit planning: protocol/mailbox-deposit.ts) and resolve only after their write is durable.
// Transport-agnostic: bus/HTTP layers call it — through actors/mailbox-access.ts for anything an outsider sends
// (signed poll/count/claim/pending-ids and block requests, issue 8); the plain methods here trust their caller
// (in-process code, the local operator's data-directory CLI).
import { Subject, type Observable } from 'rxjs';
import { ErrorCodes, InfonetError, type Rejection } from '../protocol/errors.js';
import type { Clock } from '../protocol/clock.js';
import { systemClock } from '../protocol/clock.js';
import type { ChainEvent } from '../protocol/event.js';
import type { RelaySettings } from '../protocol/settings.js';
import type { BatchOp } from '../store/group-commit.js';
import { MailboxStore } from '../store/mailbox-store.js';
import { type MailboxClaim, claimKeys, requestMailboxCandidates } from '../protocol/mailbox-keys.js';
import { BoundedBindings } from '../protocol/mailbox-bindings.js';
import { checkAgentId, type MailboxProof } from '../protocol/mailbox-access.js';
import { checkForwardedProof, proofCanHaveClaimed, proofCovers } from '../protocol/mailbox-proof.js';
import { type BlockAction, BlockList, blockRefOf } from '../protocol/block-list.js';
import { envelopeOf, planDeposit, planReplica, type RelayContext } from '../protocol/mailbox-deposit.js';
import {
  type Decision, type DepositRequest, type DepositResult, type MailboxState, type PolledMessage, type RelayLimits,
  type RelayRejection, type ReplicaEnvelope, type ReplicaResult, type StoredMessage,
  countDistinct, purgeExpired, selectForPoll, toPolled,
} from '../protocol/mailbox-rules.js';
import { planHydration, type HydrationPlan } from '../protocol/dm-hydration.js';
import { normalizePeerUrl } from '../protocol/peer-url.js';
import { type MailboxEvent, type MailboxMachine, createMailboxMachine, persistedContext } from './mailbox-actor.js';
import { MailboxActors } from './mailbox-actors.js';
import { MailboxStats } from './mailbox-stats.js';

export type MailboxDomainEvent =
  | { type: 'deposited'; mailbox_key: string; msg_id: string; origin: StoredMessage['origin']; delivery_class: string; recipient_id?: string }
  | {
    type: 'claimed'; mailbox_key: string; msg_id: string; origin: StoredMessage['origin']; delivery_class: string; recipient_id?: string;
    /** The recipient's signed poll/claim that removed it: acks carry it so peers can verify (docs/mailbox-access.md). */
    proof?: MailboxProof;
  }
  | { type: 'acked'; mailbox_key: string; msg_id: string }
  | { type: 'expired'; mailbox_key: string; msg_id: string };

/** §10.1 ack descriptor: shared mailboxes by SHA-256(token), request mailboxes by recipient id. */
export interface AckDescriptor {
  delivery_class: string;
  recipient_id?: string;
  recipient_token_hash?: string;
}

/** A local deposit the replication layer is told about before the deposit resolves (issue 5). */
export interface LocalDepositNotice {
  mailbox_key: string;
  msg_id: string;
  delivery_class: string;
  recipient_id?: string;
  duplicate: boolean;
}

/** What the replication layer adds to a local deposit's batch: its ops, and what to do once they are durable. */
export interface LocalDepositPlan {
  ops: BatchOp[];
  /** Runs after the batch (mailbox write + these ops) is durable, before the deposit resolves. */
  committed(): void | Promise<void>;
}

/**
 * Issue 5 replication hooks (actors/replication-actor.ts). Hooks sit here rather than in a transport so every
 * caller (bus, HTTP, CLI) gets them: a local deposit's outbox entries join the deposit's own atomic batch (one
 * fsync acknowledges both), and a poll first gives pull-from-peers (§10.2) a short, bounded chance to add mail.
 */
export interface ReplicationHooks {
  /**
   * Called synchronously once the mailbox actor has accepted a local deposit (also a duplicate whose message is
   * still pending), with that message's §7.9 envelope. Must not re-enter the registry.
   */
  planLocalDeposit?(n: LocalDepositNotice, envelope: ReplicaEnvelope): LocalDepositPlan | undefined;
  /** `proof` is the recipient's verified signed poll; peers answer a pull only for mailboxes it covers. */
  beforePoll?(agentId: string, claims: readonly MailboxClaim[], proof?: MailboxProof): Promise<void>;
}

export interface PollResult {
  messages: PolledMessage[];
  has_more: boolean;
}

export interface MailboxRegistryOptions {
  settings: RelaySettings;
  /** MESH_DM_HASHCHAIN_SPOOL_TTL_S, for the hydration age skip (§7.7.6). */
  spoolTtlS: number;
  clock?: Clock;
  /** Passivate least-recently-used idle actors beyond this many (default 5000). */
  maxLive?: number;
  /** `passivateIdle()` stops actors unused for this long (real ms, default 60 000). */
  idleMs?: number;
  /** Mailbox bindings kept at most (LRU + TTL, protocol/mailbox-bindings.ts). */
  bindingsMax?: number;
  /** This node's DM identity: request replicas without a recipient id are for it (§7.8.4). */
  localRecipientId?: string;
  /** Extra block-list hook (§7.5.1, §7.8 tightening), consulted besides the stored recipient block lists. */
  isBlocked?: (target: { recipientId?: string; mailboxKey: string }, senderBlockRef: string) => boolean;
}

/** Stored mailbox records read per multi-get when many are wanted at once. */
const STORED_READ_CHUNK = 1000;

const rejection = (r: RelayRejection | Rejection): InfonetError => new InfonetError(r.code, r.reason, 'details' in r ? r.details : undefined);

const fail = (r: RelayRejection | Rejection): never => {
  throw rejection(r);
};

export class MailboxRegistry {
  private readonly actors: MailboxActors;
  private readonly machine: MailboxMachine;
  private readonly clock: Clock;
  private readonly limits: RelayLimits;
  readonly bindings: BoundedBindings;
  private readonly subject = new Subject<MailboxDomainEvent>();
  private housekeeping?: NodeJS.Timeout;
  private hooks: ReplicationHooks = {};
  readonly events$: Observable<MailboxDomainEvent> = this.subject.asObservable();
  /** Counts per class/state, oldest pending age, deposits/polls/claims (issue 13, actors/mailbox-stats.ts). */
  readonly stats = new MailboxStats();

  private constructor(readonly store: MailboxStore, readonly pepper: string, private readonly blocks: BlockList, private readonly opts: MailboxRegistryOptions) {
    this.clock = opts.clock ?? systemClock;
    this.limits = opts.settings;
    this.bindings = new BoundedBindings(this.clock, opts.bindingsMax);
    this.machine = createMailboxMachine({
      clock: this.clock,
      limits: this.limits,
      // Deferred: subscribers must never re-enter an actor in the middle of its transition.
      onExpired: (key, expired) => queueMicrotask(() => {
        for (const m of expired) this.subject.next({ type: 'expired', mailbox_key: key, msg_id: m.msg_id });
      }),
      onChange: (before, after) => this.stats.change(before, after),
    });
    this.actors = new MailboxActors(store, this.machine, opts.maxLive ?? 5000);
  }

  /** Resolves the pepper (configured, persisted, or generated and persisted now), loads block lists, builds the registry. */
  static async open(store: MailboxStore, opts: MailboxRegistryOptions): Promise<MailboxRegistry> {
    const pepper = await store.pepper(opts.settings.tokenPepper);
    if (!pepper) throw new InfonetError(ErrorCodes.UNAVAILABLE, 'DM relay requires a token pepper');
    await store.loadKnownKeys();
    const blocks = new BlockList();
    for (const [rid, ref] of await store.loadBlocks()) blocks.add(rid, ref);
    const registry = new MailboxRegistry(store, pepper, blocks, opts);
    // The iterator's snapshot is taken now, before the first command: base + counted changes stay exact.
    void registry.stats.countBase(store.boxes.values()).catch(() => undefined);
    return registry;
  }

  /** Installs (or with undefined removes) the replication hooks. */
  setReplicationHooks(hooks: ReplicationHooks | undefined): void {
    this.hooks = hooks ?? {};
  }

  /** What actors/mailbox-access.ts needs to stand in front of this registry (the same settings and clock). */
  accessOptions(): { settings: RelaySettings; clock: Clock } {
    return { settings: this.opts.settings, clock: this.clock };
  }

  get liveCount(): number {
    return this.actors.size;
  }

  /** Highest number of simultaneously live actors seen (for tests and benchmarks). */
  get peakLive(): number {
    return this.actors.peakLive;
  }

  /** Entries the live set's trim() has looked at so far (tests: the work of trimming). */
  get trimVisits(): number {
    return this.actors.trimVisits;
  }

  // ------------------------------------------------------------------------------------ commands

  /** §7.5 deposit. Resolves after the message is durable; throws InfonetError on rejection. */
  async deposit(req: DepositRequest): Promise<DepositResult> {
    return this.depositAs(req, 'local');
  }

  /** §7.8 accept_replica. `originatingPeerUrl` is the HMAC-authenticated peer; network callers MUST pass it. */
  async acceptReplica(envelope: unknown, originatingPeerUrl?: string): Promise<ReplicaResult> {
    const plan = planReplica(envelope, this.replicaContext(), this.replicaPeer(originatingPeerUrl));
    if ('code' in plan) return fail(plan);
    const { mailboxKey, cls, candidate } = plan;
    const d = await this.actors.exec<Decision<ReplicaResult>>(mailboxKey, true, (reply) => ({ type: 'REPLICA', candidate, cls, reply }));
    const r = this.replicaOutcome(mailboxKey, candidate, d);
    if (r instanceof InfonetError) throw r;
    return r;
  }

  /**
   * §7.8 accept_replica for a list of envelopes (the batch route): each is decided exactly as acceptReplica would,
   * in order per mailbox, but the whole list is one registry command — one acquire per mailbox and ONE durable
   * write. Answers per envelope, in order: its result, or the typed refusal (InfonetError) acceptReplica would throw.
   */
  async acceptReplicas(envelopes: readonly unknown[], originatingPeerUrl?: string): Promise<Array<ReplicaResult | InfonetError>> {
    const peer = this.replicaPeer(originatingPeerUrl);
    const ctx = this.replicaContext();
    const out: Array<ReplicaResult | InfonetError> = new Array(envelopes.length);
    const planned: { i: number; key: string; candidate: StoredMessage; make: (reply: (d: Decision<ReplicaResult>) => void) => MailboxEvent }[] = [];
    for (let i = 0; i < envelopes.length; i++) {
      const plan = planReplica(envelopes[i], ctx, peer);
      if ('code' in plan) {
        out[i] = rejection(plan);
        continue;
      }
      const { mailboxKey, cls, candidate } = plan;
      planned.push({ i, key: mailboxKey, candidate, make: (reply) => ({ type: 'REPLICA', candidate, cls, reply }) });
    }
    if (planned.length === 0) return out;
    const decisions = await this.actors.execBatch<Decision<ReplicaResult>>(planned, true);
    for (let j = 0; j < planned.length; j++) {
      const { i, key, candidate } = planned[j];
      out[i] = this.replicaOutcome(key, candidate, decisions[j]);
    }
    return out;
  }

  /** The originating peer of a replica in the form planReplica compares (normalised when it parses). */
  private replicaPeer(originatingPeerUrl?: string): string | undefined {
    return normalizePeerUrl(originatingPeerUrl) || originatingPeerUrl?.trim() || undefined;
  }

  private replicaContext(): RelayContext & { localRecipientId?: string } {
    return { ...this.relayContext(), localRecipientId: this.opts.localRecipientId };
  }

  /** A mailbox's decision on one replica: its result (announced when stored), or the refusal acceptReplica throws. */
  private replicaOutcome(key: string, candidate: StoredMessage, d: Decision<ReplicaResult> | undefined): ReplicaResult | InfonetError {
    if (!d || !d.ok) return rejection(d ? d.rejection : { code: ErrorCodes.INTERNAL, reason: 'mailbox unavailable' });
    if (!d.result.duplicate) this.emitStored('deposited', key, candidate);
    return d.result;
  }

  /**
   * §7.6 poll: destructive read of up to `limit` oldest messages across the claimed mailboxes. `proof` is the
   * caller's verified signed poll (actors/mailbox-access.ts); it travels with the claimed events to the acks.
   */
  async poll(agentId: string, claims: readonly MailboxClaim[], limit = this.opts.settings.pollBatch, proof?: MailboxProof): Promise<PollResult> {
    this.checkAgent(agentId);
    this.stats.polls++;
    // Pull first, keys after: claimKeys refreshes the binding, and pulled replicas must land in the same mailbox as
    // the copies already here (the delivery key before this poll), or a late answer would escape the tombstones.
    if (this.hooks.beforePoll) await this.hooks.beforePoll(agentId, claims, proof);
    const keys = this.keysFor(agentId, claims);
    const lists = await Promise.all(keys.map((k) => this.peekKey(k)));
    const { chosen, hasMore } = selectForPoll(lists, limit);
    if (chosen.length === 0) return { messages: [], has_more: false };
    const taken = await this.takeFrom(keys, lists, chosen.map((m) => m.msg_id), proof);
    return { messages: chosen.filter((m) => taken.has(m.msg_id)).map(toPolled), has_more: hasMore };
  }

  /** Selective claim (= ack) of named pending messages; returns the ones removed by this call. */
  async claim(agentId: string, claims: readonly MailboxClaim[], msgIds: readonly string[], proof?: MailboxProof): Promise<PolledMessage[]> {
    const keys = this.keysFor(agentId, claims);
    const lists = await Promise.all(keys.map((k) => this.peekKey(k)));
    const byId = new Map<string, StoredMessage>();
    for (const l of lists) for (const m of l) if (msgIds.includes(m.msg_id) && !byId.has(m.msg_id)) byId.set(m.msg_id, m);
    if (byId.size === 0) return [];
    const taken = await this.takeFrom(keys, lists, [...byId.keys()], proof);
    return [...byId.values()].filter((m) => taken.has(m.msg_id)).sort((a, b) => a.timestamp - b.timestamp).map(toPolled);
  }

  /** §7.6 count_claims: distinct pending messages, non-destructive. */
  async count(agentId: string, claims: readonly MailboxClaim[]): Promise<number> {
    const keys = this.keysFor(agentId, claims);
    return countDistinct(await Promise.all(keys.map((k) => this.peekKey(k))));
  }

  /** §7.6 claim_message_ids: pending ids, non-destructive. */
  async pendingIds(agentId: string, claims: readonly MailboxClaim[]): Promise<string[]> {
    const keys = this.keysFor(agentId, claims);
    const lists = await Promise.all(keys.map((k) => this.peekKey(k)));
    return [...new Set(lists.flat().map((m) => m.msg_id))];
  }

  /**
   * §7.7 hydration: deposits each accepted `dm_message` event once, ever (persistent tombstone per event_id written
   * in the same batch as the message). The whole list is one registry command and ONE durable write (as a replica
   * batch is): each DM is planned and decided exactly as a single chain deposit would be, in list order. Returns how
   * many events count as hydrated (deposited now, a duplicate, or hydrated before).
   */
  async hydrateFromChain(events: readonly ChainEvent[], isInChain: (eventId: string) => boolean | Promise<boolean>): Promise<number> {
    const now = this.clock();
    // Each event once; `times` counts its occurrences in the list (every one counts when it is hydrated).
    const plans: Extract<HydrationPlan, { kind: 'deposit' }>[] = [];
    const times = new Map<string, number>();
    for (const ev of events) {
      const plan = planHydration(ev, now, this.opts.spoolTtlS);
      if (plan.kind === 'skip' || !(await isInChain(plan.eventId))) continue;
      const n = times.get(plan.eventId) ?? 0;
      times.set(plan.eventId, n + 1);
      if (n === 0) plans.push(plan);
    }
    const flags = await this.store.hydratedAmong(plans.map((p) => p.eventId));
    let hydrated = 0;
    const ctx = this.relayContext();
    const deposits: Array<{ key: string; eventId: string; candidate: StoredMessage; make: (reply: (d: Decision<DepositResult>) => void) => MailboxEvent }> = [];
    plans.forEach((plan, i) => {
      if (flags[i]) {
        hydrated += times.get(plan.eventId)!;
        return;
      }
      const d = planDeposit(plan.request, 'chain', ctx, `sig:${plan.senderNodeId}`);
      if ('code' in d) return; // refused before any mailbox: no tombstone, a later hydration may try again
      const { mailboxKey, cls, candidate } = d;
      deposits.push({ key: mailboxKey, eventId: plan.eventId, candidate, make: (reply) => ({ type: 'DEPOSIT', candidate, cls, reply }) });
    });
    if (deposits.length === 0) return hydrated;
    // The tombstones join the write whatever each mailbox decided (a mailbox's refusal, e.g. its cap, is final).
    const tombstones = this.store.hydratedOps(deposits.map((d) => d.eventId), this.clock());
    const decisions = await this.actors.execBatch<Decision<DepositResult>>(deposits, true, tombstones);
    deposits.forEach(({ key, eventId, candidate }, i) => {
      const d = decisions[i];
      if (!d || !d.ok) return;
      hydrated += times.get(eventId)!;
      if (!d.result.duplicate) this.emitStored('deposited', key, { ...candidate, msg_id: d.result.msg_id });
    });
    return hydrated;
  }

  /** §7.9: the replication envelope of a pending message, or null when it is no longer pending. */
  async envelopeForReplication(mailboxKey: string, msgId: string, recipientId?: string, recipientToken?: string): Promise<ReplicaEnvelope | null> {
    const m = (await this.peekKey(mailboxKey)).find((x) => x.msg_id === msgId);
    return m ? envelopeOf(mailboxKey, m, recipientId, recipientToken) : null;
  }

  /**
   * The envelopes of many pending messages at once, or null for one no longer pending (claimed, expired, unknown):
   * from a live actor's state, else from the stored record, read in multi-gets, starting no actor and writing
   * nothing (the outbox load after a restart rebuilds the bodies it does not store; issue 14).
   */
  async pendingEnvelopesOf(wanted: ReadonlyArray<{ mailboxKey: string; msgId: string; recipientId?: string }>): Promise<Array<ReplicaEnvelope | null>> {
    const now = this.clock();
    const states = new Map<string, MailboxState | undefined>();
    const unread: string[] = [];
    for (const w of wanted) {
      if (states.has(w.mailboxKey)) continue;
      const live = this.actors.liveState(w.mailboxKey);
      states.set(w.mailboxKey, live);
      if (!live) unread.push(w.mailboxKey);
    }
    for (let i = 0; i < unread.length; i += STORED_READ_CHUNK) {
      const chunk = unread.slice(i, i + STORED_READ_CHUNK);
      const records = await this.store.loadMailboxes(chunk);
      chunk.forEach((k, j) => states.set(k, persistedContext(records[j]?.snapshot)?.mailbox));
    }
    return wanted.map((w) => {
      const state = states.get(w.mailboxKey);
      const m = state ? purgeExpired(state, now, this.limits).state.messages.find((x) => x.msg_id === w.msgId) : undefined;
      return m ? envelopeOf(w.mailboxKey, m, w.recipientId) : null;
    });
  }

  /**
   * §10.1 made safe (issue 8): a peer's ack deletes the named msg_id only when `proof` — the recipient's signed
   * poll/claim, forwarded by the polling node — verifies, is fresh, covers the described mailbox, and could have
   * claimed this message (stored no later than the poll). Anything else deletes nothing (false).
   */
  async applyAck(msgId: string, descriptor: AckDescriptor, proof?: unknown): Promise<boolean> {
    const p = this.usableProof(proof, descriptor);
    if (!p) return false;
    let removed = false;
    for (const k of this.descriptorKeys(descriptor)) {
      const m = (await this.peekKey(k)).find((x) => x.msg_id === msgId);
      if (!m || !proofCanHaveClaimed(p, msgId, m.timestamp)) continue;
      const taken = await this.actors.exec<StoredMessage[]>(k, false, (reply) => ({ type: 'TAKE', msgIds: [msgId], reply }));
      if (taken && taken.length) {
        removed = true;
        this.subject.next({ type: 'acked', mailbox_key: k, msg_id: msgId });
      }
    }
    return removed;
  }

  /** §10.2 pull: envelopes pending in the described mailbox, oldest first, not removed — only for a covering proof. */
  async pendingEnvelopes(descriptor: AckDescriptor, limit: number, proof?: unknown): Promise<ReplicaEnvelope[]> {
    if (!this.usableProof(proof, descriptor)) return [];
    const shared = String(descriptor.delivery_class ?? '').trim().toLowerCase() === 'shared';
    const rid = (descriptor.recipient_id ?? '').trim();
    const out: ReplicaEnvelope[] = [];
    const seen = new Set<string>();
    for (const k of this.descriptorKeys(descriptor)) {
      for (const m of [...(await this.peekKey(k))].sort((a, b) => a.timestamp - b.timestamp)) {
        if (out.length >= limit) return out;
        if (seen.has(m.msg_id)) continue;
        seen.add(m.msg_id);
        out.push(envelopeOf(k, m, shared ? '' : rid || undefined));
      }
    }
    return out;
  }

  /** The verified proof when it covers the descriptor, else null (a peer is told nothing more). */
  checkPeerProof(proof: unknown, descriptor: AckDescriptor): Rejection | MailboxProof {
    const p = checkForwardedProof(proof, this.clock(), this.limits.messageTtlS);
    if ('code' in p) return p;
    if (!proofCovers(p, descriptor)) return { code: ErrorCodes.PEER_AUTH, reason: 'recipient proof does not cover this mailbox' };
    return p;
  }

  /**
   * Recipient block list (§7.5.1): `block` stores the recipient-scoped ref of `senderId`, `unblock` removes it.
   * The caller has verified the recipient's signed request (actors/mailbox-access.ts). Durable before it resolves.
   */
  async setBlocked(recipientId: string, senderId: string, action: BlockAction): Promise<{ blocked: boolean; count: number }> {
    const bad = checkAgentId(recipientId);
    if (bad) return fail(bad);
    const ref = blockRefOf(this.pepper, recipientId, senderId);
    if (action === 'block') {
      const full = this.blocks.canAdd(recipientId, ref);
      if (full) return fail(full);
      await this.store.write(this.store.blockOps(recipientId, ref, true));
      this.blocks.add(recipientId, ref);
    } else {
      await this.store.write(this.store.blockOps(recipientId, ref, false));
      this.blocks.remove(recipientId, ref);
    }
    return { blocked: action === 'block', count: this.blocks.size };
  }

  isSenderBlocked(recipientId: string, senderId: string): boolean {
    return this.blocks.has(blockRefOf(this.pepper, recipientId, senderId));
  }

  /** Purges every mailbox whose expiry deadline has passed, live or passivated. Returns mailboxes swept. */
  async sweepExpired(): Promise<number> {
    const keys = await this.store.dueMailboxes(this.clock());
    for (const k of keys) await this.actors.exec(k, false, () => ({ type: 'PURGE' }));
    return keys.length;
  }

  /** Passivates actors idle for `idleMs`. Returns how many were stopped. */
  passivateIdle(idleMs = this.opts.idleMs ?? 60_000): number {
    return this.actors.passivateIdle(idleMs);
  }

  /** Periodic idle passivation and expiry sweep (timer does not keep the process alive). */
  startHousekeeping(intervalMs = 30_000): void {
    if (this.housekeeping) return;
    this.housekeeping = setInterval(() => {
      this.passivateIdle();
      void this.sweepExpired().catch(() => undefined);
    }, intervalMs);
    this.housekeeping.unref();
  }

  /** Waits for in-flight writes, stops every actor. The store's database stays open (its owner closes it). */
  async close(): Promise<void> {
    if (this.housekeeping) clearInterval(this.housekeeping);
    await this.store.committer.drain();
    this.actors.stopAll();
    this.subject.complete();
  }

  // ---------------------------------------------------------------------------------- internals

  private relayContext(): RelayContext {
    return {
      pepper: this.pepper, now: this.clock(), bindings: this.bindings, limits: this.limits,
      isBlocked: (target, refs) => refs.some((r) => !!r && (this.blocks.has(r) || !!this.opts.isBlocked?.(target, r))),
      mayBlock: this.blocks.size > 0 || this.opts.isBlocked !== undefined,
    };
  }

  private usableProof(proof: unknown, descriptor: AckDescriptor): MailboxProof | null {
    const p = this.checkPeerProof(proof, descriptor);
    return 'code' in p ? null : p;
  }

  private descriptorKeys(d: AckDescriptor): string[] {
    const cls = String(d.delivery_class ?? '').trim().toLowerCase();
    if (cls === 'shared') return d.recipient_token_hash ? [d.recipient_token_hash.trim().toLowerCase()] : [];
    const rid = (d.recipient_id ?? '').trim();
    return rid && !checkAgentId(rid) ? requestMailboxCandidates(this.pepper, rid, this.clock(), this.bindings) : [];
  }

  /** Agent ids are length-checked before they can key a binding (issue 8 item 3). */
  private checkAgent(agentId: string): void {
    if (agentId === '') return;
    const bad = checkAgentId(agentId);
    if (bad) fail(bad);
  }

  private keysFor(agentId: string, claims: readonly MailboxClaim[]): string[] {
    this.checkAgent(agentId);
    return claimKeys(this.pepper, agentId, claims, this.clock(), this.bindings).keys;
  }

  private async depositAs(req: DepositRequest, origin: 'local' | 'chain', capKey?: string, extraOps?: BatchOp[]): Promise<DepositResult> {
    const plan = planDeposit(req, origin, this.relayContext(), capKey);
    if ('code' in plan) return fail(plan);
    const { mailboxKey, cls, recipientId, candidate } = plan;
    // The replication plan (outbox entries) is made once the actor has decided, and joins the same atomic batch.
    let replication: LocalDepositPlan | undefined;
    const planFor = origin === 'local' && this.hooks.planLocalDeposit ? this.hooks.planLocalDeposit.bind(this.hooks) : undefined;
    const rid = cls === 'request' && recipientId ? recipientId : undefined;
    const d = await this.actors.exec<Decision<DepositResult>>(mailboxKey, true, (reply) => ({ type: 'DEPOSIT', candidate, cls, reply }), (out) => {
      const ops = extraOps ?? [];
      if (!planFor || !out || !out.ok) return ops;
      const stored = out.state.messages.find((m) => m.msg_id === out.result.msg_id);
      if (!stored) return ops; // a duplicate of a message claimed already: nothing left to replicate
      replication = planFor({
        mailbox_key: mailboxKey, msg_id: out.result.msg_id, delivery_class: cls, duplicate: !!out.result.duplicate, ...(rid ? { recipient_id: rid } : {}),
      }, envelopeOf(mailboxKey, stored, rid));
      return replication ? [...ops, ...replication.ops] : ops;
    });
    if (!d || !d.ok) return fail(d ? d.rejection : { code: ErrorCodes.INTERNAL, reason: 'mailbox unavailable' });
    if (!d.result.duplicate) this.emitStored('deposited', mailboxKey, { ...candidate, msg_id: d.result.msg_id });
    if (replication) await replication.committed();
    return d.result;
  }

  private emitStored(type: 'deposited' | 'claimed', key: string, m: StoredMessage, proof?: MailboxProof): void {
    if (type === 'deposited') this.stats.deposits[m.origin]++;
    else this.stats.claims++;
    this.subject.next({
      type, mailbox_key: key, msg_id: m.msg_id, origin: m.origin, delivery_class: m.delivery_class,
      ...(m.recipient_id ? { recipient_id: m.recipient_id } : {}),
      ...(proof && type === 'claimed' ? { proof } : {}),
    } as MailboxDomainEvent);
  }

  private async peekKey(key: string): Promise<StoredMessage[]> {
    return (await this.actors.exec<StoredMessage[]>(key, false, (reply) => ({ type: 'PEEK', reply }))) ?? [];
  }

  private async takeFrom(keys: string[], lists: StoredMessage[][], ids: string[], proof?: MailboxProof): Promise<Set<string>> {
    const want = new Set(ids);
    const taken = new Set<string>();
    await Promise.all(keys.map(async (k, i) => {
      const here = lists[i].filter((m) => want.has(m.msg_id)).map((m) => m.msg_id);
      if (here.length === 0) return;
      const got = (await this.actors.exec<StoredMessage[]>(k, false, (reply) => ({ type: 'TAKE', msgIds: here, reply }))) ?? [];
      for (const m of got) {
        if (taken.has(m.msg_id)) continue;
        taken.add(m.msg_id);
        this.emitStored('claimed', k, m, proof);
      }
    }));
    return taken;
  }
}
