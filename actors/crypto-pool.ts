// Ed25519 work on worker threads. Signatures do not depend on chain position, so a received batch (a
// sync page, a peer push, an ingest file) is verified in parallel before the chain actor validates it
// in order, and local appends under load are signed in parallel once their sequence is reserved; the
// ordered pass then only looks the results up. Small batches stay inline: below ~16 events the message
// round trip costs more than it saves.
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
const signers = new Map();
function signerOf(seed) {
  const id = Buffer.from(seed).toString('hex');
  let k = signers.get(id);
  if (!k) {
    k = crypto.createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seed)]), format: 'der', type: 'pkcs8' });
    if (signers.size > 1000) signers.clear();
    signers.set(id, k);
  }
  return k;
}
parentPort.on('message', ({ id, jobs, op }) => {
  if (op === 'sign') {
    const sigs = jobs.map((j) => crypto.sign(null, Buffer.from(j.msg), signerOf(j.seed)).toString('hex'));
    parentPort.postMessage({ id, sigs });
    return;
  }
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

export class CryptoPool {
  private readonly workers: Worker[];
  private next = 0;
  private seq = 0;
  private readonly waiting = new Map<number, (out: never) => void>();
  private signQueue: Array<{ seed: Uint8Array; msg: string; resolve: (sig: string) => void }> = [];

  constructor(size = Math.max(1, availableParallelism())) {
    this.workers = Array.from({ length: size }, () => {
      const w = new Worker(WORKER_SOURCE, { eval: true });
      w.unref();
      w.on('message', ({ id, out, sigs }: { id: number; out?: Uint8Array; sigs?: string[] }) => {
        this.waiting.get(id)?.((out ?? sigs) as never);
        this.waiting.delete(id);
      });
      return w;
    });
  }

  private run(jobs: Job[]): Promise<Uint8Array> {
    return this.post('verify', jobs);
  }

  private post<T>(op: 'verify' | 'sign', jobs: unknown[]): Promise<T> {
    const id = this.seq++;
    const w = this.workers[this.next++ % this.workers.length];
    return new Promise<T>((resolve) => {
      this.waiting.set(id, resolve as (out: never) => void);
      w.postMessage({ id, jobs, op });
    });
  }

  /** Ed25519-sign `msg` with the 32-byte seed on a worker; same-tick requests share one message per worker. */
  sign(seed: Uint8Array, msg: string): Promise<string> {
    return new Promise<string>((resolve) => {
      this.signQueue.push({ seed, msg, resolve });
      if (this.signQueue.length === 1) queueMicrotask(() => this.flushSigns());
    });
  }

  private flushSigns(): void {
    const queue = this.signQueue;
    this.signQueue = [];
    const chunk = Math.ceil(queue.length / this.workers.length);
    for (let i = 0; i < queue.length; i += chunk) {
      const part = queue.slice(i, i + chunk);
      void this.post<string[]>('sign', part.map(({ seed, msg }) => ({ seed, msg }))).then((sigs) => part.forEach((p, k) => p.resolve(sigs[k])));
    }
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
