// Shared fixtures for the chain acceptance tests (spec §12 "Fixtures"): K1 from the A.1 seed, the
// G / D / M payload builders, a manual clock, fresh nodes in real LevelDB dirs under os.tmpdir(), and
// hand-built signed events for the ingest / fork paths.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openChainAt, type OpenedChain } from '../../actors/open-chain.js';
import type { BatchOp } from '../../store/group-commit.js';
import type { AppendInput } from '../../protocol/append-rules.js';
import { validateLocalAppend } from '../../protocol/append-rules.js';
import { applyEvent, rebuildChainState, type ChainState } from '../../protocol/chain-state.js';
import { manualClock } from '../../protocol/clock.js';
import { NETWORK_ID, PROTOCOL_VERSION } from '../../protocol/constants.js';
import { isInfonetError } from '../../protocol/errors.js';
import type { ChainEvent, Payload } from '../../protocol/event.js';
import { computeEventId } from '../../protocol/event-id.js';
import { generateIdentity, identityFromSeed, type Identity } from '../../protocol/identity.js';
import { defaultSettings, type ChainSettings } from '../../protocol/settings.js';
import { signaturePayload } from '../../protocol/signature-payload.js';
import { signEd25519 } from '../../protocol/signatures.js';
import type { ValidationContext } from '../../protocol/validate-event.js';
import { K1_SEED_HEX } from '../fixtures/vectors.js';

export const T0 = 1_700_000_000;

/** The batches `node`'s chain store is handed while `fn` runs (what one operation writes). */
export async function chainWrites(node: OpenedChain, fn: () => Promise<unknown>): Promise<BatchOp[][]> {
  const store = node.chain.ledger.store;
  const write = store.write.bind(store);
  const writes: BatchOp[][] = [];
  store.write = (ops) => (writes.push(ops), write(ops));
  try {
    await fn();
  } finally {
    store.write = write;
  }
  return writes;
}
export const K1: Identity = identityFromSeed(Buffer.from(K1_SEED_HEX, 'hex'));
export const newIdentity = (): Identity => generateIdentity();

export const b64 = (s: string | Uint8Array): string => Buffer.from(s).toString('base64');

/** `G(epoch, tl)`: the §12 gate payload (epoch omitted when 0, transport_lock omitted when null). */
export function G(epoch = 0, tl: string | null = 'private_strong'): Record<string, unknown> {
  const p: Record<string, unknown> = {
    gate: 'ops-gate',
    ciphertext: b64('encrypted-gate-ciphertext'),
    nonce: b64('nonce-value-1234'),
    sender_ref: 'sender-ref-1',
    format: 'mls1',
  };
  if (tl !== null) p.transport_lock = tl;
  if (epoch) p.epoch = epoch;
  return p;
}

/** `D(r, id)`: the §12 DM payload with `timestamp: floor(now)`. */
export function D(r: string, id: string, now: number): Record<string, unknown> {
  return {
    recipient_id: r,
    delivery_class: 'request',
    recipient_token: '',
    ciphertext: b64('cipher-' + id),
    msg_id: id,
    timestamp: Math.floor(now),
    format: 'mls1',
    transport_lock: 'private_strong',
  };
}

/** `M(text)`: the §12 public message payload. */
export function M(text: string): Record<string, unknown> {
  return { message: text, destination: 'broadcast', channel: 'LongFast', priority: 'normal', ephemeral: false };
}

export const chainSettings = (): ChainSettings => defaultSettings().chain;

/** Validation context with a fixed clock; freshness off unless given. */
export function ctxAt(now: number | (() => number), maxAgeS = 0, settings: ChainSettings = chainSettings()): ValidationContext {
  return { settings, clock: typeof now === 'number' ? () => now : now, maxAgeS };
}

/** Sign `signed` (already the exact signature payload object) for (type, node, seq). */
export function signOver(id: Identity, type: string, seq: number, signed: unknown, nodeId = id.nodeId): string {
  return signEd25519(id.privateKey, signaturePayload(type, nodeId, seq, signed));
}

/**
 * A hand-built event linked to `prevHash`, with `payload` stored verbatim (no normalisation) and the
 * signature made over `signed` (default: the stored payload). Used for ingest / fork inputs that the
 * local append paths would never produce.
 */
export function rawEvent(opts: {
  id: Identity;
  type: string;
  payload: Payload | Record<string, unknown>;
  sequence: number;
  prevHash: string;
  timestamp: number;
  signed?: unknown;
  nodeId?: string;
}): ChainEvent {
  const nodeId = opts.nodeId ?? opts.id.nodeId;
  const partial = {
    prev_hash: opts.prevHash,
    event_type: opts.type,
    node_id: nodeId,
    payload: opts.payload as Payload,
    timestamp: opts.timestamp,
    sequence: opts.sequence,
    signature: signOver(opts.id, opts.type, opts.sequence, opts.signed ?? opts.payload, nodeId),
    network_id: NETWORK_ID,
    public_key: opts.id.publicKey,
    public_key_algo: opts.id.publicKeyAlgo,
    protocol_version: PROTOCOL_VERSION,
  };
  return { event_id: computeEventId(partial), ...partial };
}

/** Builds a valid chain in memory through the real local-append rules (used to make ingest/fork inputs). */
export class ScratchChain {
  readonly events: ChainEvent[] = [];
  state: ChainState;
  constructor(public ctx: ValidationContext, prefix: readonly ChainEvent[] = []) {
    this.state = rebuildChainState(prefix);
    this.events.push(...prefix);
  }
  get head(): string { return this.state.head; }
  append(input: AppendInput): ChainEvent {
    const v = validateLocalAppend(this.state, input, this.ctx);
    if (v.kind !== 'accepted') throw new Error(`scratch append rejected: ${v.kind === 'rejected' ? v.rejection.reason : v.kind}`);
    applyEvent(this.state, v.event);
    this.events.push(v.event);
    return v.event;
  }
  /** Append an already-built event (must link to the head). */
  push(ev: ChainEvent): ChainEvent {
    if (ev.prev_hash !== this.state.head) throw new Error('scratch push: not linked to head');
    applyEvent(this.state, ev);
    this.events.push(ev);
    return ev;
  }
}

/** Fresh nodes in temporary LevelDB dirs; `cleanup()` closes and removes them all (call in afterAll). */
export class NodePool {
  private readonly opened: Array<{ node: OpenedChain; closed: boolean }> = [];
  private readonly dirs: string[] = [];

  tempDir(prefix = 'infonet-chain-'): string {
    const d = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(d);
    return d;
  }

  async open(dir: string, opts: { clock?: () => number; settings?: ChainSettings; quarantineCorrupt?: boolean } = {}): Promise<OpenedChain> {
    const node = await openChainAt(dir, { settings: opts.settings ?? chainSettings(), clock: opts.clock ?? (() => T0), ...(opts.quarantineCorrupt ? { quarantineCorrupt: true } : {}) });
    const entry = { node, closed: false };
    this.opened.push(entry);
    const close = node.close;
    node.close = async () => {
      if (entry.closed) return;
      entry.closed = true;
      await close();
    };
    return node;
  }

  /** A fresh node (empty chain) with a manual clock at `t0`. */
  async fresh(t0 = T0, settings?: ChainSettings): Promise<OpenedChain & { clock: ReturnType<typeof manualClock>; dir: string }> {
    const clock = manualClock(t0);
    const dir = this.tempDir();
    const node = await this.open(dir, { clock, ...(settings ? { settings } : {}) });
    return Object.assign(node, { clock, dir });
  }

  async cleanup(): Promise<void> {
    // node.close is the wrapper installed by open(): it marks the entry closed itself. Marking it here first
    // made the wrapper return at once, so no chain actor was stopped and no LevelDB closed (they were only
    // closed by classic-level's exit hook, which made the jest worker slow to exit under load).
    for (const e of this.opened) {
      if (!e.closed) await e.node.close();
    }
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }
}

/** Await a promise expected to reject with an InfonetError; returns it for further assertions. */
export async function rejection(p: Promise<unknown>): Promise<{ code: string; reason: string }> {
  try {
    await p;
  } catch (e) {
    if (isInfonetError(e)) return { code: e.code, reason: e.reason };
    throw e;
  }
  throw new Error('expected a rejection, but the operation succeeded');
}

export const cloneEvent = <T>(ev: T): T => JSON.parse(JSON.stringify(ev)) as T;
