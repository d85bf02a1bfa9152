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

/** One group: the operations of every write that shares the next fsync, and that fsync's promise. */
interface Group {
  ops: BatchOp[][];
  done: Promise<void>;
  resolve: () => void;
  reject: (e: unknown) => void;
}

function newGroup(): Group {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const done = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
  return { ops: [], done, resolve, reject };
}

export class GroupCommitter {
  private queue: Group | null = null;
  private flushing = false;
  /** Number of fsync'd batches written, for benchmarks and tests. */
  commits = 0;

  constructor(private readonly db: Db, private readonly sync = true) {}

  /** Resolves once `ops` are on disk; every write queued before the next fsync shares its promise. */
  write(ops: BatchOp[]): Promise<void> {
    if (ops.length === 0) return Promise.resolve();
    const group = (this.queue ??= newGroup());
    group.ops.push(ops);
    if (!this.flushing) void this.flush();
    return group.done;
  }

  /** Resolves when everything queued so far is durable. */
  async drain(): Promise<void> {
    while (this.flushing || this.queue) await new Promise<void>((r) => setImmediate(r));
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue) {
        const group = this.queue;
        this.queue = null;
        try {
          // One atomic batch: only the last operation per key matters (e.g. the chain head record that
          // every append rewrites), so later ones replace earlier ones before packing. Keys are collected
          // in order; a key seen again blanks its earlier slot.
          const slot = new Map<string, number>();
          const keys: string[] = [];
          const chosen: Array<BatchOp | null> = [];
          for (const ops of group.ops) {
            for (const op of ops) {
              const key = op.sublevel ? sublevelPrefix(op.sublevel) + op.key : op.key;
              const prev = slot.get(key);
              if (prev !== undefined) chosen[prev] = null;
              slot.set(key, chosen.length);
              keys.push(key);
              chosen.push(op);
            }
          }
          const batch = this.db.batch();
          for (let i = 0; i < chosen.length; i++) {
            const op = chosen[i];
            if (op === null) continue;
            if (op.type === 'put') batch.put(keys[i], packValue(op.value));
            else batch.del(keys[i]);
          }
          await batch.write({ sync: this.sync } as never);
          this.commits++;
          group.resolve();
        } catch (e) {
          group.reject(e);
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}
