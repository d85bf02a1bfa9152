// Signature verification on worker threads. Signatures do not depend on chain position, so a received
// batch (a sync page, a peer push, an ingest file) is verified in parallel before the chain actor
// validates it in order; the sequential pass then only looks the verdicts up. Small batches are
// verified inline: below ~16 events the message round trip costs more than it saves.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Payload } from '../protocol/event.js';
import { gateSignatureVariants } from '../protocol/gate-payload.js';
import { isPlainObject } from '../protocol/signed-context.js';
import { signaturePayload } from '../protocol/signature-payload.js';
import { publicKeySpki } from '../protocol/signatures.js';

// Plain JS so it runs the same under tsx, jest and node: only node:crypto, keys arrive as SPKI DER.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const crypto = require('node:crypto');
const keys = new Map();
function keyOf(der) {
  const id = Buffer.from(der).toString('base64');
  let k = keys.get(id);
  if (!k) { k = crypto.createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' }); if (keys.size > 20000) keys.clear(); keys.set(id, k); }
  return k;
}
parentPort.on('message', ({ id, jobs }) => {
  const out = new Uint8Array(jobs.length);
  for (let i = 0; i < jobs.length; i++) {
    const j = jobs[i];
    try {
      const key = keyOf(j.der);
      const sig = Buffer.from(j.sig, 'hex');
      for (const m of j.msgs) {
        const ok = j.ecdsa ? crypto.verify('sha256', Buffer.from(m), { key, dsaEncoding: 'der' }, sig) : sig.length === 64 && crypto.verify(null, Buffer.from(m), key, sig);
        if (ok) { out[i] = 1; break; }
      }
    } catch { out[i] = 0; }
  }
  parentPort.postMessage({ id, out }, [out.buffer]);
});
`;

interface Job { der: Uint8Array; sig: string; msgs: string[]; ecdsa: boolean }

const HEX_RE = /^(?:[0-9a-fA-F]{2})+$/;
export const POOL_MIN_BATCH = 16;

/** The signature payload strings an event may be signed over (gate events: the §4.4 variants). */
function jobFor(raw: unknown): Job | null {
  if (!isPlainObject(raw)) return null;
  const e = raw as Record<string, unknown>;
  if (typeof e.event_type !== 'string' || typeof e.node_id !== 'string' || typeof e.signature !== 'string' || !HEX_RE.test(e.signature)
    || typeof e.public_key !== 'string' || typeof e.public_key_algo !== 'string' || !isPlainObject(e.payload) || typeof e.sequence !== 'number') return null;
  const der = publicKeySpki(e.public_key_algo, e.public_key);
  if (!der) return null;
  try {
    const payloads: Payload[] = e.event_type === 'gate_message' ? gateSignatureVariants(e.payload as Payload) : [e.payload as Payload];
    const msgs = payloads.map((p) => signaturePayload(e.event_type as string, e.node_id as string, e.sequence as number, p));
    return { der, sig: e.signature, msgs, ecdsa: !/^(ed25519|eddsa)$/i.test(e.public_key_algo.trim()) };
  } catch {
    return null;
  }
}

export class VerifyPool {
  private readonly workers: Worker[];
  private next = 0;
  private seq = 0;
  private readonly waiting = new Map<number, (out: Uint8Array) => void>();

  constructor(size = Math.max(1, availableParallelism())) {
    this.workers = Array.from({ length: size }, () => {
      const w = new Worker(WORKER_SOURCE, { eval: true });
      w.unref();
      w.on('message', ({ id, out }: { id: number; out: Uint8Array }) => {
        this.waiting.get(id)?.(out);
        this.waiting.delete(id);
      });
      return w;
    });
  }

  private run(jobs: Job[]): Promise<Uint8Array> {
    const id = this.seq++;
    const w = this.workers[this.next++ % this.workers.length];
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      w.postMessage({ id, jobs });
    });
  }

  /**
   * Verdicts for a batch of received events: a WeakMap from each well-formed event object to whether its
   * signature verifies. Events missing from the map are verified inline by the validator.
   */
  async verifyEvents(events: readonly unknown[]): Promise<WeakMap<object, boolean>> {
    const verdicts = new WeakMap<object, boolean>();
    if (events.length < POOL_MIN_BATCH) return verdicts;
    const jobs: Job[] = [];
    const owners: object[] = [];
    for (const raw of events) {
      const j = jobFor(raw);
      if (j) {
        jobs.push(j);
        owners.push(raw as object);
      }
    }
    const chunk = Math.ceil(jobs.length / this.workers.length);
    const parts = await Promise.all(this.workers.map((_, i) => (i * chunk < jobs.length ? this.run(jobs.slice(i * chunk, (i + 1) * chunk)) : Promise.resolve(new Uint8Array()))));
    let k = 0;
    for (const part of parts) for (const ok of part) verdicts.set(owners[k++], ok === 1);
    return verdicts;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
