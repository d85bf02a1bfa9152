// Ed25519 work on worker threads (piscina runs actors/crypto-worker.mjs). Signatures do not depend on
// chain position, so a received batch (a sync page, a peer push, an ingest file) is verified in parallel before the chain actor validates it
// in order, and local appends under load are signed in parallel once their sequence is reserved; the
// ordered pass then only looks the results up. Small batches stay inline: below ~16 events the message
// round trip costs more than it saves.
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { Payload } from '../protocol/event.js';
import { gateSignatureVariants } from '../protocol/gate-payload.js';
import { isPlainObject } from '../protocol/signed-context.js';
import { signaturePayload } from '../protocol/signature-payload.js';
import { publicKeySpki } from '../protocol/signatures.js';
import { signedPayloadOf } from '../protocol/validate-event.js';
import type { CryptoResult, CryptoTask, SignJob, VerifyJob } from './crypto-worker.mjs';

const WORKER_MODULE = fileURLToPath(new URL('./crypto-worker.mjs', import.meta.url));

const HEX_RE = /^(?:[0-9a-fA-F]{2})+$/;
export const POOL_MIN_BATCH = 16;
/**
 * At most this many signatures per task: results come back in small slices, so the ordered pass can
 * start on the first appends of a burst while the rest are still being signed (a burst split into one
 * task per worker kept it idle until a whole half was done).
 */
const SIGN_TASK_MAX = 32;

/** The signature payload strings an event may be signed over (gate: the §4.4 variants; public: the normalised payload). */
function jobFor(raw: unknown): VerifyJob | null {
  if (!isPlainObject(raw)) return null;
  const e = raw as Record<string, unknown>;
  if (typeof e.event_type !== 'string' || typeof e.node_id !== 'string' || typeof e.signature !== 'string' || !HEX_RE.test(e.signature)
    || typeof e.public_key !== 'string' || typeof e.public_key_algo !== 'string' || !isPlainObject(e.payload) || typeof e.sequence !== 'number') return null;
  const der = publicKeySpki(e.public_key_algo, e.public_key);
  if (!der) return null;
  try {
    const payload = e.payload as Payload;
    const payloads: Payload[] = e.event_type === 'gate_message' ? gateSignatureVariants(payload) : [signedPayloadOf(e.event_type, payload)];
    const msgs = payloads.map((p) => signaturePayload(e.event_type as string, e.node_id as string, e.sequence as number, p));
    return { der, sig: e.signature, msgs, ecdsa: !/^(ed25519|eddsa)$/i.test(e.public_key_algo.trim()) };
  } catch {
    return null;
  }
}

/**
 * Piscina runs the workers (one per core); this class keeps the two batching rules that make them pay:
 * a received batch is split into one task per worker, and signatures requested in the same tick (local
 * appends under load) travel together, in tasks of at most SIGN_TASK_MAX.
 */
export class CryptoPool {
  private readonly pool: Piscina<CryptoTask, CryptoResult>;
  private readonly size: number;
  private signQueue: Array<SignJob & { resolve: (sig: string) => void; reject: (e: unknown) => void }> = [];

  constructor(size = Math.max(1, availableParallelism())) {
    this.size = size;
    // execArgv []: the worker is plain JS; inheriting `--import tsx` cost each worker seconds to start.
    // recordTiming off: nothing reads piscina's histograms, and they cost a little per task.
    this.pool = new Piscina<CryptoTask, CryptoResult>({ filename: WORKER_MODULE, minThreads: size, maxThreads: size, idleTimeout: 60_000, execArgv: [], recordTiming: false });
  }

  /** Ed25519-sign `msg` with the 32-byte seed on a worker; same-tick requests share one task per worker. */
  sign(seed: Uint8Array, msg: string): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      this.signQueue.push({ seed, msg, resolve, reject });
      if (this.signQueue.length === 1) queueMicrotask(() => this.flushSigns());
    });
  }

  private flushSigns(): void {
    const queue = this.signQueue;
    this.signQueue = [];
    const chunk = Math.min(SIGN_TASK_MAX, Math.ceil(queue.length / this.size));
    for (let i = 0; i < queue.length; i += chunk) {
      const part = queue.slice(i, i + chunk);
      // Each distinct seed travels once per task (appends under load mostly come from one identity).
      const seeds: Uint8Array[] = [];
      const seedOf = part.map(({ seed }) => {
        let k = seeds.indexOf(seed);
        if (k < 0) k = seeds.push(seed) - 1;
        return k;
      });
      this.pool.run({ op: 'sign', seeds, seedOf, msgs: part.map((p) => p.msg) }).then(
        (sigs) => {
          const buf = Buffer.from(sigs.buffer, sigs.byteOffset, sigs.byteLength);
          part.forEach((p, k) => p.resolve(buf.toString('hex', 64 * k, 64 * k + 64)));
        },
        (e: unknown) => part.forEach((p) => p.reject(e)),
      );
    }
  }

  /**
   * Verdicts for a batch of received events: a WeakMap from each well-formed event object to whether its
   * signature verifies. Events missing from the map are verified inline by the validator.
   */
  async verifyEvents(events: readonly unknown[]): Promise<WeakMap<object, boolean>> {
    const verdicts = new WeakMap<object, boolean>();
    if (events.length < POOL_MIN_BATCH) return verdicts;
    const jobs: VerifyJob[] = [];
    const owners: object[] = [];
    for (const raw of events) {
      const j = jobFor(raw);
      if (j) {
        jobs.push(j);
        owners.push(raw as object);
      }
    }
    const chunk = Math.max(1, Math.ceil(jobs.length / this.size));
    const tasks: Array<Promise<CryptoResult>> = [];
    for (let i = 0; i < jobs.length; i += chunk) tasks.push(this.pool.run({ op: 'verify', jobs: jobs.slice(i, i + chunk) }));
    let k = 0;
    for (const part of await Promise.all(tasks)) for (const ok of part) verdicts.set(owners[k++], ok === 1);
    return verdicts;
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
