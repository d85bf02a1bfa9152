// Signed mailbox access (spec §7.6; issue 8 items 1 and 3): the one entry point for poll, claim, count, pending-ids
// and block requests that come from outside the process — the bus service and any HTTP API call these, never the
// registry's trusting methods. Checks, in order, each with its typed error and nothing changed on failure:
//   agent id length → binding of key to agent id (`node_id mismatch`) → signature (`Invalid signature`) →
//   `Missing nonce` → timestamp within ±MESH_DM_NONCE_TTL_S → nonce cache (`nonce replay detected`,
//   `nonce cache at capacity`) → the persisted `dm_poll` / `dm_count` / `dm_block` private signed-write domain
//   (`Replay detected: sequence <s> <= last <l>`, `Sequence must be a positive integer`).
// The nonce cache lives in memory only (docs/mailbox-access.md): the persisted sequence domain already refuses every
// replay across a restart, so the cache is the bounded second lock the spec asks for.
import type { Clock } from '../protocol/clock.js';
import { systemClock } from '../protocol/clock.js';
import { InfonetError, type Rejection } from '../protocol/errors.js';
import {
  type MailboxAccessKind, type MailboxProof, type SignedMailboxRequest,
  accessEventType, checkAccessTimestamp, readSignedMailboxRequest, toMailboxProof, verifyAccessSignature,
} from '../protocol/mailbox-access.js';
import { BLOCK_EVENT_TYPE, readSignedBlockRequest, verifyBlockSignature, type SignedBlockRequest } from '../protocol/block-list.js';
import type { MailboxClaim } from '../protocol/mailbox-keys.js';
import { NonceCache } from '../protocol/nonce-cache.js';
import type { RelaySettings } from '../protocol/settings.js';
import type { PolledMessage } from '../protocol/mailbox-rules.js';
import type { MailboxRegistry, PollResult } from './mailbox-registry.js';

/** The chain actor's private signed-write domains (§3.1), persisted durably; actors/chain-actor.ts satisfies it. */
export interface SignedWriteSequences {
  checkSignedWrite(nodeId: string, sequence: unknown, domain: string): Promise<void>;
}

export interface MailboxAccessOptions {
  settings: Pick<RelaySettings, 'nonceTtlS' | 'noncePerAgentMax' | 'nonceCacheMax' | 'pollBatch'>;
  clock?: Clock;
}

const fail = (r: Rejection): never => {
  throw new InfonetError(r.code, r.reason);
};

export class MailboxAccess {
  readonly nonces: NonceCache;
  private readonly clock: Clock;

  constructor(
    private readonly mailboxes: Pick<MailboxRegistry, 'poll' | 'claim' | 'count' | 'pendingIds' | 'setBlocked'>,
    private readonly sequences: SignedWriteSequences,
    private readonly opts: MailboxAccessOptions,
  ) {
    this.clock = opts.clock ?? systemClock;
    const s = opts.settings;
    this.nonces = new NonceCache({ ttlS: s.nonceTtlS, perAgentMax: s.noncePerAgentMax, cacheMax: s.nonceCacheMax });
  }

  /** Signed §7.6 poll (`dm_poll`). The verified request, minus its tokens, rides along as the proof for acks/pulls. */
  async poll(raw: unknown): Promise<PollResult> {
    const req = await this.admit(raw, 'poll');
    return this.mailboxes.poll(req.agent_id, claimsOf(req), req.limit ?? this.opts.settings.pollBatch, toMailboxProof(req));
  }

  /** Signed selective claim (`dm_poll`; the msg_ids are signed). */
  async claim(raw: unknown): Promise<PolledMessage[]> {
    const req = await this.admit(raw, 'claim');
    return this.mailboxes.claim(req.agent_id, claimsOf(req), req.msg_ids ?? [], toMailboxProof(req));
  }

  /** Signed count (`dm_count`). */
  async count(raw: unknown): Promise<number> {
    const req = await this.admit(raw, 'count');
    return this.mailboxes.count(req.agent_id, claimsOf(req));
  }

  /** Signed pending-ids (`dm_count`). */
  async pendingIds(raw: unknown): Promise<string[]> {
    const req = await this.admit(raw, 'pending_ids');
    return this.mailboxes.pendingIds(req.agent_id, claimsOf(req));
  }

  /** Signed `dm_block` request: block or unblock a sender for the signing recipient on this node. */
  async block(raw: unknown): Promise<{ ok: true; action: string; sender_id: string; blocked: boolean }> {
    const req = readSignedBlockRequest(raw);
    if ('code' in req) return fail(req);
    const bad = verifyBlockSignature(req);
    if (bad) return fail(bad);
    await this.freshAndNew(req, BLOCK_EVENT_TYPE);
    const r = await this.mailboxes.setBlocked(req.agent_id, req.sender_id, req.action);
    return { ok: true, action: req.action, sender_id: req.sender_id, blocked: r.blocked };
  }

  /** Every check of a signed mailbox request; returns it verified (or throws, nothing changed). */
  async admit(raw: unknown, kind: MailboxAccessKind): Promise<SignedMailboxRequest> {
    const req = readSignedMailboxRequest(raw, kind);
    if ('code' in req) return fail(req);
    const eventType = accessEventType(kind);
    const bad = verifyAccessSignature(toMailboxProof(req), eventType);
    if (bad) return fail(bad);
    await this.freshAndNew(req, eventType);
    return req;
  }

  /** Timestamp window, nonce cache, then the persisted sequence domain; the nonce is released if that fails. */
  private async freshAndNew(req: Pick<SignedBlockRequest | MailboxProof, 'agent_id' | 'timestamp' | 'nonce' | 'sequence'>, domain: string): Promise<void> {
    const now = this.clock();
    const stale = checkAccessTimestamp(req.timestamp, now, this.opts.settings.nonceTtlS);
    if (stale) fail(stale);
    const replay = this.nonces.admit(req.agent_id, req.nonce, now, req.timestamp);
    if (replay) fail(replay);
    try {
      await this.sequences.checkSignedWrite(req.agent_id, req.sequence, domain);
    } catch (e) {
      this.nonces.forget(req.agent_id, req.nonce);
      throw e;
    }
  }
}

const claimsOf = (req: SignedMailboxRequest): MailboxClaim[] =>
  req.claims.map((c) => (c.token === undefined ? { type: c.type } : { type: c.type, token: c.token }));
