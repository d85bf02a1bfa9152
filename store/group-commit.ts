// Group commit: callers hand in their batch operations and get a promise that resolves only after the
// operations are on disk (LevelDB batch with sync: true). While one fsync is in flight, new operations
// queue up and all of them share the next fsync — so many concurrent appends/deposits cost one fsync.
import type { Db } from './db.js';

/** One LevelDB batch operation; `sublevel` targets a sublevel of the same database (atomic across them). */
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
        const ops = group.length === 1 ? group[0].ops : group.flatMap((p) => p.ops);
        try {
          await this.db.batch(ops as never, { sync: this.sync } as never);
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
