// The DM relay (spec §7) as a registry of mailbox actors. A mailbox actor is spawned on first use,
// restored from its LevelDB snapshot when it was passivated, and passivated again (stopped; its
// snapshot is already durable) when idle or when more than `maxLive` actors are live, so memory stays
// bounded however many mailboxes exist. Every state change is written through the group committer
// and a command resolves only after its write is durable. Transport-agnostic: bus/HTTP layers call it.
import { Subject, type Observable } from 'rxjs';
import { ErrorCodes, InfonetError } from '../protocol/errors.js';
import type { Clock } from '../protocol/clock.js';
import { systemClock } from '../protocol/clock.js';
import type { ChainEvent } from '../protocol/event.js';
import type { RelaySettings } from '../protocol/settings.js';
import type { BatchOp } from '../store/group-commit.js';
import { MailboxStore } from '../store/mailbox-store.js';
import {
  type MailboxBindings, type MailboxClaim, claimKeys, deliveryMailboxKey, requestMailboxCandidates, senderBlockRef, sharedMailboxKey,
} from '../protocol/mailbox-keys.js';
import {
  type Decision, type DepositRequest, type DepositResult, type MailboxState, type PolledMessage, type RelayLimits,
  type RelayRejection, type ReplicaEnvelope, type ReplicaResult, type StoredMessage,
  checkDepositRequest, countDistinct, isEmptyMailbox, readReplicaEnvelope, replicaCapKey, selectForPoll, toPolled,
} from '../protocol/mailbox-rules.js';
import { verifySenderProof } from '../protocol/dm-sender-proof.js';
import { planHydration } from '../protocol/dm-hydration.js';
import { normalizePeerUrl } from '../protocol/peer-url.js';
import { type MailboxActor, type MailboxEvent, type MailboxMachine, createMailboxMachine, startMailboxActor } from './mailbox-actor.js';

export type MailboxDomainEvent =
  | { type: 'deposited'; mailbox_key: string; msg_id: string; origin: StoredMessage['origin']; delivery_class: string; recipient_id?: string }
  | { type: 'claimed'; mailbox_key: string; msg_id: string; origin: StoredMessage['origin']; delivery_class: string; recipient_id?: string }
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
  beforePoll?(agentId: string, claims: readonly MailboxClaim[]): Promise<void>;
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
  /** This node's DM identity: request replicas without a recipient id are for it (§7.8.4). */
  localRecipientId?: string;
  /** Block-list hook (§7.5.1, §7.8 tightening); block lists themselves live with DM metadata. */
  isBlocked?: (target: { recipientId?: string; mailboxKey: string }, senderBlockRef: string) => boolean;
}

interface Entry {
  key: string;
  actor: MailboxActor;
  persistedRev: number;
  persistedDeadline: number | null;
  busy: number;
  writes: number;
  lastUsed: number;
  inCommand: boolean;
}

const fail = (r: RelayRejection): never => {
  throw new InfonetError(r.code, r.reason, r.details);
};

export class MailboxRegistry {
  private readonly live = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<Entry | null>>();
  private readonly machine: MailboxMachine;
  private readonly clock: Clock;
  private readonly limits: RelayLimits;
  private readonly bindings: MailboxBindings = new Map();
  private readonly subject = new Subject<MailboxDomainEvent>();
  private housekeeping?: NodeJS.Timeout;
  private hooks: ReplicationHooks = {};
  /** Highest number of simultaneously live actors seen (for tests and benchmarks). */
  peakLive = 0;
  readonly events$: Observable<MailboxDomainEvent> = this.subject.asObservable();

  private constructor(readonly store: MailboxStore, readonly pepper: string, private readonly opts: MailboxRegistryOptions) {
    this.clock = opts.clock ?? systemClock;
    this.limits = opts.settings;
    this.machine = createMailboxMachine({
      clock: this.clock,
      limits: this.limits,
      // Deferred: subscribers must never re-enter an actor in the middle of its transition.
      onExpired: (key, expired) => queueMicrotask(() => {
        for (const m of expired) this.subject.next({ type: 'expired', mailbox_key: key, msg_id: m.msg_id });
      }),
    });
  }

  /** Resolves the pepper (configured, persisted, or generated and persisted now) and builds the registry. */
  static async open(store: MailboxStore, opts: MailboxRegistryOptions): Promise<MailboxRegistry> {
    const pepper = await store.pepper(opts.settings.tokenPepper);
    if (!pepper) throw new InfonetError(ErrorCodes.UNAVAILABLE, 'DM relay requires a token pepper');
    await store.loadKnownKeys();
    return new MailboxRegistry(store, pepper, opts);
  }

  /** Installs (or with undefined removes) the replication hooks. */
  setReplicationHooks(hooks: ReplicationHooks | undefined): void {
    this.hooks = hooks ?? {};
  }

  get liveCount(): number {
    return this.live.size;
  }

  // ------------------------------------------------------------------------------------ commands

  /** §7.5 deposit. Resolves after the message is durable; throws InfonetError on rejection. */
  async deposit(req: DepositRequest): Promise<DepositResult> {
    return this.depositAs(req, 'local');
  }

  /** §7.8 accept_replica. `originatingPeerUrl` is the HMAC-authenticated peer; network callers MUST pass it. */
  async acceptReplica(envelope: unknown, originatingPeerUrl?: string): Promise<ReplicaResult> {
    const now = this.clock();
    const read = readReplicaEnvelope(envelope, this.limits, {
      requestKey: (rid) => deliveryMailboxKey(this.pepper, 'request', { recipientId: rid }, now, this.bindings),
      sharedKey: sharedMailboxKey,
      localRecipientId: this.opts.localRecipientId,
    });
    if ('code' in read) return fail(read);
    const { env, cls } = read;
    const verified = env.sender_proof
      ? verifySenderProof(env.sender_proof, {
        delivery_class: cls, recipient_id: env.recipient_id, recipient_token: env.recipient_token, shared_key: env.mailbox_key,
        msg_id: env.msg_id, ciphertext: env.ciphertext,
      })
      : null;
    const localRef = verified
      ? senderBlockRef(this.pepper, verified, { recipientId: env.recipient_id, recipientToken: env.recipient_token, deliveryClass: cls })
      : env.sender_block_ref;
    if (this.blocked({ recipientId: env.recipient_id, mailboxKey: env.mailbox_key }, [localRef, env.sender_block_ref])) {
      return fail({ code: ErrorCodes.RELAY_BLOCKED, reason: 'Recipient is not accepting your messages' });
    }
    const candidate: StoredMessage = {
      msg_id: env.msg_id, sender_id: env.sender_id, ciphertext: env.ciphertext, timestamp: env.timestamp,
      delivery_class: env.delivery_class, sender_seal: env.sender_seal, relay_salt: env.relay_salt, sender_block_ref: localRef,
      payload_format: env.payload_format, session_welcome: env.session_welcome,
      cap_key: replicaCapKey(env, verified, normalizePeerUrl(originatingPeerUrl) || originatingPeerUrl?.trim() || undefined), origin: 'replica',
      ...(verified && env.sender_proof ? { sender_proof: { public_key: env.sender_proof.public_key, signature: env.sender_proof.signature } } : {}),
      ...(cls === 'request' && env.recipient_id ? { recipient_id: env.recipient_id } : {}),
    };
    const d = await this.exec<Decision<ReplicaResult>>(env.mailbox_key, true, (reply) => ({ type: 'REPLICA', candidate, cls, reply }));
    if (!d || !d.ok) return fail(d ? d.rejection : { code: ErrorCodes.INTERNAL, reason: 'mailbox unavailable' });
    if (!d.result.duplicate) this.emitStored('deposited', env.mailbox_key, candidate);
    return d.result;
  }

  /** §7.6 poll: destructive read of up to `limit` oldest messages across the claimed mailboxes. */
  async poll(agentId: string, claims: readonly MailboxClaim[], limit = this.opts.settings.pollBatch): Promise<PollResult> {
    if (this.hooks.beforePoll) await this.hooks.beforePoll(agentId, claims);
    const keys = this.keysFor(agentId, claims);
    const lists = await Promise.all(keys.map((k) => this.peekKey(k)));
    const { chosen, hasMore } = selectForPoll(lists, limit);
    if (chosen.length === 0) return { messages: [], has_more: false };
    const taken = await this.takeFrom(keys, lists, chosen.map((m) => m.msg_id));
    return { messages: chosen.filter((m) => taken.has(m.msg_id)).map(toPolled), has_more: hasMore };
  }

  /** Selective claim (= ack) of named pending messages; returns the ones removed by this call. */
  async claim(agentId: string, claims: readonly MailboxClaim[], msgIds: readonly string[]): Promise<PolledMessage[]> {
    const keys = this.keysFor(agentId, claims);
    const lists = await Promise.all(keys.map((k) => this.peekKey(k)));
    const byId = new Map<string, StoredMessage>();
    for (const l of lists) for (const m of l) if (msgIds.includes(m.msg_id) && !byId.has(m.msg_id)) byId.set(m.msg_id, m);
    if (byId.size === 0) return [];
    const taken = await this.takeFrom(keys, lists, [...byId.keys()]);
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
   * §7.7 hydration: deposits each accepted `dm_message` event once, ever (persistent tombstone per
   * event_id written in the same batch as the message). Returns how many events count as hydrated.
   */
  async hydrateFromChain(events: readonly ChainEvent[], isInChain: (eventId: string) => boolean | Promise<boolean>): Promise<number> {
    let hydrated = 0;
    for (const ev of events) {
      const plan = planHydration(ev, this.clock(), this.opts.spoolTtlS);
      if (plan.kind === 'skip') continue;
      if (!(await isInChain(plan.eventId))) continue;
      if (await this.store.isHydrated(plan.eventId)) {
        hydrated++;
        continue;
      }
      try {
        await this.depositAs(plan.request, 'chain', `sig:${plan.senderNodeId}`, this.store.hydratedOps([plan.eventId], this.clock()));
        hydrated++;
      } catch (e) {
        if (!(e instanceof InfonetError)) throw e;
      }
    }
    return hydrated;
  }

  /** §7.9: the replication envelope of a pending message, or null when it is no longer pending. */
  async envelopeForReplication(mailboxKey: string, msgId: string, recipientId?: string, recipientToken?: string): Promise<ReplicaEnvelope | null> {
    const m = (await this.peekKey(mailboxKey)).find((x) => x.msg_id === msgId);
    return m ? envelopeOf(mailboxKey, m, recipientId, recipientToken) : null;
  }

  /** §10.1: a peer's ack deletes exactly the named msg_id from the described mailbox (idempotent). */
  async applyAck(msgId: string, descriptor: AckDescriptor): Promise<boolean> {
    const cls = String(descriptor.delivery_class ?? '').trim().toLowerCase();
    let keys: string[] = [];
    if (cls === 'shared' && descriptor.recipient_token_hash) keys = [descriptor.recipient_token_hash.trim().toLowerCase()];
    else if (descriptor.recipient_id) keys = requestMailboxCandidates(this.pepper, descriptor.recipient_id.trim(), this.clock(), this.bindings);
    let removed = false;
    for (const k of keys) {
      const taken = await this.exec<StoredMessage[]>(k, false, (reply) => ({ type: 'TAKE', msgIds: [msgId], reply }));
      if (taken && taken.length) {
        removed = true;
        this.subject.next({ type: 'acked', mailbox_key: k, msg_id: msgId });
      }
    }
    return removed;
  }

  /** §10.2 pull: envelopes (§7.9 form) pending in the described mailbox, oldest first, not removed. */
  async pendingEnvelopes(descriptor: AckDescriptor, limit: number): Promise<ReplicaEnvelope[]> {
    const cls = String(descriptor.delivery_class ?? '').trim().toLowerCase();
    const shared = cls === 'shared' && !!descriptor.recipient_token_hash;
    const rid = (descriptor.recipient_id ?? '').trim();
    const keys = shared ? [descriptor.recipient_token_hash!.trim().toLowerCase()] : rid ? requestMailboxCandidates(this.pepper, rid, this.clock(), this.bindings) : [];
    const out: ReplicaEnvelope[] = [];
    const seen = new Set<string>();
    for (const k of keys) {
      for (const m of [...(await this.peekKey(k))].sort((a, b) => a.timestamp - b.timestamp)) {
        if (out.length >= limit) return out;
        if (seen.has(m.msg_id)) continue;
        seen.add(m.msg_id);
        const env = await this.envelopeForReplication(k, m.msg_id, shared ? '' : rid || undefined);
        if (env) out.push(env);
      }
    }
    return out;
  }

  /** Purges every mailbox whose expiry deadline has passed, live or passivated. Returns mailboxes swept. */
  async sweepExpired(): Promise<number> {
    const keys = await this.store.dueMailboxes(this.clock());
    for (const k of keys) await this.exec(k, false, () => ({ type: 'PURGE' }));
    return keys.length;
  }

  /** Passivates actors idle for `idleMs`. Returns how many were stopped. */
  passivateIdle(idleMs = this.opts.idleMs ?? 60_000): number {
    const cutoff = Date.now() - idleMs;
    let n = 0;
    for (const e of [...this.live.values()]) if (e.lastUsed <= cutoff && this.passivate(e)) n++;
    return n;
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
    for (const e of [...this.live.values()]) {
      e.actor.stop();
      this.live.delete(e.key);
    }
    this.subject.complete();
  }

  // ---------------------------------------------------------------------------------- internals

  private blocked(target: { recipientId?: string; mailboxKey: string }, refs: string[]): boolean {
    return !!this.opts.isBlocked && refs.some((r) => r && this.opts.isBlocked!(target, r));
  }

  private keysFor(agentId: string, claims: readonly MailboxClaim[]): string[] {
    return claimKeys(this.pepper, agentId, claims, this.clock(), this.bindings).keys;
  }

  private async depositAs(req: DepositRequest, origin: 'local' | 'chain', capKey?: string, extraOps?: BatchOp[]): Promise<DepositResult> {
    const now = this.clock();
    const recipientId = String(req.recipient_id ?? '').trim();
    const recipientToken = String(req.recipient_token ?? '').trim();
    const cls0 = String(req.delivery_class ?? '').trim().toLowerCase();
    const authority = String(req.raw_sender_id || req.sender_id || '');
    const blockRef = senderBlockRef(this.pepper, authority, { recipientId, recipientToken, deliveryClass: cls0 });
    const key0 = cls0 === 'shared' ? sharedMailboxKey(recipientToken) : deliveryMailboxKey(this.pepper, 'request', { recipientId }, now, this.bindings);
    const check = checkDepositRequest(req, this.limits, this.blocked({ recipientId, mailboxKey: key0 }, [blockRef]));
    if ('code' in check) return fail(check);
    const cls = check.cls;
    let cap = capKey;
    let proof: StoredMessage['sender_proof'];
    if (!cap && req.sender_proof) {
      const signer = verifySenderProof(req.sender_proof, {
        delivery_class: cls, recipient_id: recipientId, recipient_token: recipientToken, msg_id: String(req.msg_id ?? ''), ciphertext: req.ciphertext,
      });
      if (!signer) return fail({ code: ErrorCodes.INVALID_SIGNATURE, reason: 'Invalid signature: sender proof does not verify' });
      cap = `sig:${signer}`;
      proof = { public_key: req.sender_proof.public_key, signature: req.sender_proof.signature };
    }
    const tokenHash = String(req.sender_token_hash ?? '').trim();
    const candidate: StoredMessage = {
      msg_id: String(req.msg_id ?? '').trim(),
      sender_id: tokenHash ? `sender_token:${tokenHash}` : String(req.sender_id ?? ''),
      ciphertext: req.ciphertext, timestamp: now, delivery_class: cls,
      sender_seal: String(req.sender_seal ?? ''), relay_salt: String(req.relay_salt ?? ''), sender_block_ref: blockRef,
      payload_format: String(req.payload_format ?? '').trim() || 'dm1', session_welcome: String(req.session_welcome ?? ''),
      cap_key: cap ?? `ref:${blockRef}`, origin,
      ...(proof ? { sender_proof: proof } : {}),
      ...(cls === 'request' ? { recipient_id: recipientId } : {}),
    };
    // The replication plan (outbox entries) is made once the actor has decided, and joins the same atomic batch.
    let plan: LocalDepositPlan | undefined;
    const planFor = origin === 'local' && this.hooks.planLocalDeposit ? this.hooks.planLocalDeposit.bind(this.hooks) : undefined;
    const d = await this.exec<Decision<DepositResult>>(key0, true, (reply) => ({ type: 'DEPOSIT', candidate, cls, reply }), (out) => {
      const ops = extraOps ?? [];
      if (!planFor || !out || !out.ok) return ops;
      const stored = out.state.messages.find((m) => m.msg_id === out.result.msg_id);
      if (!stored) return ops; // a duplicate of a message claimed already: nothing left to replicate
      plan = planFor({
        mailbox_key: key0, msg_id: out.result.msg_id, delivery_class: cls, duplicate: !!out.result.duplicate,
        ...(cls === 'request' && recipientId ? { recipient_id: recipientId } : {}),
      }, envelopeOf(key0, stored, cls === 'request' && recipientId ? recipientId : undefined));
      return plan ? [...ops, ...plan.ops] : ops;
    });
    if (!d || !d.ok) return fail(d ? d.rejection : { code: ErrorCodes.INTERNAL, reason: 'mailbox unavailable' });
    if (!d.result.duplicate) this.emitStored('deposited', key0, { ...candidate, msg_id: d.result.msg_id });
    if (plan) await plan.committed();
    return d.result;
  }

  private emitStored(type: 'deposited' | 'claimed', key: string, m: StoredMessage): void {
    this.subject.next({
      type, mailbox_key: key, msg_id: m.msg_id, origin: m.origin, delivery_class: m.delivery_class,
      ...(m.recipient_id ? { recipient_id: m.recipient_id } : {}),
    });
  }

  private async peekKey(key: string): Promise<StoredMessage[]> {
    return (await this.exec<StoredMessage[]>(key, false, (reply) => ({ type: 'PEEK', reply }))) ?? [];
  }

  private async takeFrom(keys: string[], lists: StoredMessage[][], ids: string[]): Promise<Set<string>> {
    const want = new Set(ids);
    const taken = new Set<string>();
    await Promise.all(keys.map(async (k, i) => {
      const here = lists[i].filter((m) => want.has(m.msg_id)).map((m) => m.msg_id);
      if (here.length === 0) return;
      const got = (await this.exec<StoredMessage[]>(k, false, (reply) => ({ type: 'TAKE', msgIds: here, reply }))) ?? [];
      for (const m of got) {
        if (taken.has(m.msg_id)) continue;
        taken.add(m.msg_id);
        this.emitStored('claimed', k, m);
      }
    }));
    return taken;
  }

  /**
   * Sends one command to a mailbox actor and waits until the resulting state (plus `extraOps`, in the
   * same atomic batch) is durable. With `create=false` a mailbox that does not exist yields undefined.
   */
  private async exec<R>(
    key: string, create: boolean, make: (reply: (r: R) => void) => MailboxEvent,
    extraOps?: BatchOp[] | ((out: R | undefined) => BatchOp[]),
  ): Promise<R | undefined> {
    const entry = await this.acquire(key, create);
    if (!entry) {
      const ops = typeof extraOps === 'function' ? extraOps(undefined) : extraOps;
      if (ops?.length) await this.store.write(ops);
      return undefined;
    }
    try {
      let out: R | undefined;
      entry.inCommand = true;
      try {
        entry.actor.send(make((r) => { out = r; }));
      } finally {
        entry.inCommand = false;
      }
      await this.persist(entry, typeof extraOps === 'function' ? extraOps(out) : extraOps);
      return out;
    } finally {
      entry.busy--;
      entry.lastUsed = Date.now();
      this.trim();
    }
  }

  /** Writes the actor's snapshot if its state moved since the last write (null record when empty). */
  private persist(entry: Entry, extraOps?: BatchOp[]): Promise<void> {
    const snap = entry.actor.getSnapshot();
    const ctx = snap.context;
    let ops: BatchOp[] = extraOps ?? [];
    if (ctx.rev !== entry.persistedRev) {
      entry.persistedRev = ctx.rev;
      const empty = isEmptyMailbox(ctx.mailbox as MailboxState);
      const record = empty ? null : { snapshot: entry.actor.getPersistedSnapshot(), deadline: ctx.deadline };
      ops = [...this.store.mailboxOps(entry.key, record, entry.persistedDeadline), ...ops];
      entry.persistedDeadline = record ? ctx.deadline : null;
    }
    if (ops.length === 0) return Promise.resolve();
    entry.writes++;
    return this.store.write(ops).then(
      () => { entry.writes--; this.trim(); },
      (e) => {
        entry.writes--;
        // The in-memory state is ahead of the disk: drop the actor so the next use reloads the truth.
        this.store.markMayExist(entry.key);
        entry.actor.stop();
        if (this.live.get(entry.key) === entry) this.live.delete(entry.key);
        throw e;
      },
    );
  }

  /** Returns the live entry for `key`, pinned (busy+1) so it cannot be passivated until released. */
  private async acquire(key: string, create: boolean): Promise<Entry | null> {
    for (;;) {
      const live = this.live.get(key);
      if (live) {
        live.busy++;
        this.live.delete(key);
        this.live.set(key, live); // most recently used last
        return live;
      }
      let pending = this.loading.get(key);
      if (!pending) {
        pending = this.load(key, create);
        this.loading.set(key, pending);
        void pending.finally(() => this.loading.delete(key)).catch(() => undefined);
      }
      const e = await pending;
      if (!e && !create) return null;
      // Loop: pins the entry synchronously if it is still live (it may have been passivated meanwhile).
    }
  }

  private async load(key: string, create: boolean): Promise<Entry | null> {
    const rec = await this.store.loadMailbox(key);
    if (!rec && !create) return null;
    const existing = this.live.get(key);
    if (existing) return existing;
    this.trim(1);
    const actor = startMailboxActor(this.machine, key, rec?.snapshot);
    const entry: Entry = {
      key, actor, persistedRev: actor.getSnapshot().context.rev, persistedDeadline: rec?.deadline ?? null,
      busy: 0, writes: 0, lastUsed: Date.now(), inCommand: false,
    };
    // Timer-driven expiry changes state outside a command: persist those too.
    actor.subscribe(() => {
      if (!entry.inCommand && actor.getSnapshot().context.rev !== entry.persistedRev) void this.persist(entry).catch(() => undefined);
    });
    this.live.set(key, entry);
    if (this.live.size > this.peakLive) this.peakLive = this.live.size;
    return entry;
  }

  /** Passivates least-recently-used idle actors until at most maxLive - room are live. */
  private trim(room = 0): void {
    const max = Math.max(1, (this.opts.maxLive ?? 5000) - room);
    if (this.live.size <= max) return;
    for (const e of this.live.values()) {
      if (this.live.size <= max) break;
      this.passivate(e);
    }
  }

  /** Stops an actor whose latest state is durable; a later use restores it from its snapshot. */
  private passivate(e: Entry): boolean {
    if (e.busy > 0 || e.writes > 0 || e.actor.getSnapshot().context.rev !== e.persistedRev) return false;
    e.actor.stop();
    this.live.delete(e.key);
    return true;
  }
}

/** §7.9 envelope of a stored message (recipient fields trimmed, empty when unknown). */
function envelopeOf(mailboxKey: string, m: StoredMessage, recipientId?: string, recipientToken?: string): ReplicaEnvelope {
  return {
    msg_id: m.msg_id, mailbox_key: mailboxKey, recipient_id: (recipientId ?? m.recipient_id ?? '').trim(),
    recipient_token: (recipientToken ?? '').trim(), sender_id: m.sender_id, sender_block_ref: m.sender_block_ref,
    sender_seal: m.sender_seal, ciphertext: m.ciphertext, timestamp: m.timestamp, delivery_class: m.delivery_class,
    relay_salt: m.relay_salt, payload_format: m.payload_format, session_welcome: m.session_welcome,
    ...(m.sender_proof ? { sender_proof: m.sender_proof } : {}),
  };
}
