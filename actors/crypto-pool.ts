// Ed25519 work on worker threads (actors/crypto-worker.mjs, one per core). Signatures do not depend on
// chain position, so a received batch (a sync page, a peer push, an ingest file) is verified in parallel before the chain actor validates it
// in order, and local appends under load are signed in parallel once their sequence is reserved; the
// ordered pass then only looks the results up. Small batches stay inline: below ~16 events the message
// round trip costs more than it saves.
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Payload } from '../protocol/event.js';
import { gateSignatureVariants } from '../protocol/gate-payload.js';
import { isPlainObject } from '../protocol/signed-context.js';
import { signaturePayload } from '../protocol/signature-payload.js';
import { publicKeySpki } from '../protocol/signatures.js';
import { signedPayloadOf } from '../protocol/validate-event.js';
import type { CryptoResult, CryptoTask, VerifyJob } from './crypto-worker.mjs';

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

/** Where a pooled signature goes (a local append in flight is its own sink: no promise per signature). */
export interface SignSink {
  signed(signatureHex: string): void;
  signFailed(error: unknown): void;
}

/** One worker thread and the tasks it has not answered yet. */
class CryptoWorker {
  readonly worker: Worker;
  readonly pending = new Map<number, { resolve: (r: CryptoResult) => void; reject: (e: unknown) => void }>();
  dead = false;

  constructor() {
    // execArgv []: the worker is plain JS; inheriting `--import tsx` cost each worker seconds to start.
    this.worker = new Worker(WORKER_MODULE, { execArgv: [] });
    this.worker.unref(); // referenced only while it owes an answer (see run)
    this.worker.on('message', (m: { id: number; result?: CryptoResult; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) this.worker.unref();
      if (m.result) p.resolve(m.result);
      else p.reject(new Error(`crypto worker: ${m.error}`));
    });
    const die = (e: unknown): void => {
      this.dead = true;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
      this.worker.unref();
    };
    this.worker.on('error', die);
    this.worker.on('exit', (code) => die(new Error(`crypto worker exited (${code})`)));
  }

  run(id: number, task: CryptoTask): Promise<CryptoResult> {
    return new Promise<CryptoResult>((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, task });
    });
  }
}

/**
 * Plain worker_threads, one per core (piscina's per-task bookkeeping cost ~5 % of the main thread under
 * append load), and the two batching rules that make them pay: a received batch is split into one task
 * per worker, and signatures requested in the same tick (local appends under load) travel together, in
 * tasks of at most SIGN_TASK_MAX. A task goes to the worker with the fewest unanswered tasks.
 */
export class CryptoPool {
  private readonly workers: CryptoWorker[] = [];
  private readonly size: number;
  private nextId = 0;
  private closed = false;
  /** Signatures requested this tick, as parallel arrays (no object per request). */
  private signSeeds: Uint8Array[] = [];
  private signMsgs: string[] = [];
  private signSinks: SignSink[] = [];

  constructor(size = Math.max(1, availableParallelism())) {
    this.size = size;
    for (let i = 0; i < size; i++) this.workers.push(new CryptoWorker());
  }

  private run(task: CryptoTask): Promise<CryptoResult> {
    if (this.closed) return Promise.reject(new Error('crypto pool is closed'));
    let best = -1;
    for (let i = 0; i < this.workers.length; i++) {
      if (this.workers[i].dead) this.workers[i] = new CryptoWorker(); // a crashed worker is replaced
      if (best < 0 || this.workers[i].pending.size < this.workers[best].pending.size) best = i;
    }
    return this.workers[best].run(this.nextId++, task);
  }

  /** Ed25519-sign `msg` with the 32-byte seed on a worker; same-tick requests share one task per worker. */
  sign(seed: Uint8Array, msg: string): Promise<string> {
    return new Promise<string>((resolve, reject) => this.signInto(seed, msg, { signed: resolve, signFailed: reject }));
  }

  /** As sign, but the hex signature (or the failure) is handed to `sink`. */
  signInto(seed: Uint8Array, msg: string, sink: SignSink): void {
    this.signSeeds.push(seed);
    this.signMsgs.push(msg);
    this.signSinks.push(sink);
    if (this.signSinks.length === 1) queueMicrotask(() => this.flushSigns());
  }

  private flushSigns(): void {
    const allSeeds = this.signSeeds;
    const allMsgs = this.signMsgs;
    const allSinks = this.signSinks;
    this.signSeeds = [];
    this.signMsgs = [];
    this.signSinks = [];
    const chunk = Math.min(SIGN_TASK_MAX, Math.ceil(allSinks.length / this.size));
    for (let i = 0; i < allSinks.length; i += chunk) {
      const end = Math.min(i + chunk, allSinks.length);
      // Each distinct seed travels once per task (appends under load mostly come from one identity), as
      // its own 32 bytes: a small Buffer is a view of an 8 KiB pool slab, which postMessage copies whole.
      const distinct: Uint8Array[] = [];
      const seeds: Uint8Array[] = [];
      const seedOf: number[] = [];
      for (let j = i; j < end; j++) {
        let k = distinct.indexOf(allSeeds[j]);
        if (k < 0) {
          k = distinct.push(allSeeds[j]) - 1;
          seeds.push(new Uint8Array(allSeeds[j]));
        }
        seedOf.push(k);
      }
      const first = i;
      this.run({ op: 'sign', seeds, seedOf, msgs: allMsgs.slice(i, end) }).then(
        (sigs) => {
          const buf = Buffer.from(sigs.buffer, sigs.byteOffset, sigs.byteLength);
          for (let j = first; j < end; j++) allSinks[j].signed(buf.toString('hex', 64 * (j - first), 64 * (j - first) + 64));
        },
        (e: unknown) => { for (let j = first; j < end; j++) allSinks[j].signFailed(e); },
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
    for (let i = 0; i < jobs.length; i += chunk) tasks.push(this.run({ op: 'verify', jobs: jobs.slice(i, i + chunk) }));
    let k = 0;
    for (const part of await Promise.all(tasks)) for (const ok of part) verdicts.set(owners[k++], ok === 1);
    return verdicts;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}
