// Group commit: callers hand in their batch operations and get a promise that resolves only after the
// operations are on disk (LevelDB batch with sync: true). While one fsync is in flight, new operations
// queue up and all of them share the next fsync — so many concurrent appends/deposits cost one fsync.
import { packValue, sublevelPrefix, type Db } from './db.js';

/**
 * One LevelDB batch operation; `sublevel` targets a sublevel of the same database (atomic across them).
 * Values are msgpack-packed here; ops without a sublevel write the root key with a packed value.
 */
export type BatchOp =
  | { type: 'put'; key: string; value: unknown; sublevel?: unknown }
  | { type: 'del'; key: string; sublevel?: unknown };

interface Pending {
  ops: BatchOp[];
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class GroupCommitter {
  private queue: Pending[] = [];
  private flushing = false;
  /** Number of fsync'd batches written, for benchmarks and tests. */
  commits = 0;

  constructor(private readonly db: Db, private readonly sync = true) {}

  write(ops: BatchOp[]): Promise<void> {
    if (ops.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ ops, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  /** Resolves when everything queued so far is durable. */
  async drain(): Promise<void> {
    while (this.flushing || this.queue.length) await new Promise<void>((r) => setImmediate(r));
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length) {
        const group = this.queue;
        this.queue = [];
        try {
          // One atomic batch: only the last operation per key matters (e.g. the chain head record that
          // every append rewrites), so later ones replace earlier ones before packing.
          const last = new Map<string, BatchOp>();
          for (const p of group) {
            for (const op of p.ops) {
              const key = op.sublevel ? sublevelPrefix(op.sublevel) + op.key : op.key;
              last.delete(key);
              last.set(key, op);
            }
          }
          const batch = this.db.batch();
          for (const [key, op] of last) {
            if (op.type === 'put') batch.put(key, packValue(op.value));
            else batch.del(key);
          }
          await batch.write({ sync: this.sync } as never);
          this.commits++;
          for (const p of group) p.resolve();
        } catch (e) {
          for (const p of group) p.reject(e);
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}
