// Durable MLS state of the node (issue 12), sublevel `mls` of the node's LevelDB. Every value is sealed at rest with
// AES-256-GCM under a per-node key kept beside the database (<data>/mls/at-rest.key, mode 600), with the record key
// as AAD: group secrets and the decrypted local gate view never sit in LevelDB files in clear (spec §6.5 allows a
// local plaintext view; we keep it, but sealed), and a record that was altered or moved fails to open.
//   p:<persona>              MLS signature keys of a local persona
//   k:<welcome_dh_pub hex>   an exported key package: its private half and the X25519 welcome key (§11.7)
//   g:<gate>                 one gate: directory fields, cursor into the chain, encoded MLS group state, pending commit
//   v:<gate>:<n>             the local view of a gate: one decrypted post per key (sealed)
//   d:<session>              one DM session; dv:<session>:<n> its decrypted messages
// A record that does not open is reported, never deleted or recreated here: the owner decides (fail closed).
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, InfonetError } from '../protocol/errors.js';
import { sublevel, type Db, type Sublevel } from './db.js';
import type { BatchOp, GroupCommitter } from './group-commit.js';
import { msgpackrBigInt as packr } from '../protocol/msgpack.js';

export const AT_REST_KEY_FILE = join('mls', 'at-rest.key');

export class MlsRecordUnreadable extends Error {
  constructor(readonly key: string, why: string) {
    super(`MLS record ${key} cannot be opened: ${why}`);
  }
}

export type MlsOp = { key: string; value: unknown } | { key: string; delete: true };

export function loadOrCreateAtRestKey(dataDir: string): Buffer {
  const file = join(dataDir, AT_REST_KEY_FILE);
  if (existsSync(file)) {
    const k = Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
    if (k.length !== 32) throw new InfonetError(ErrorCodes.STORE_CORRUPT, `${file} is not a 32-byte hex key`);
    return k;
  }
  mkdirSync(join(dataDir, 'mls'), { recursive: true, mode: 0o700 });
  const k = randomBytes(32);
  writeFileSync(`${file}.tmp`, k.toString('hex') + '\n', { mode: 0o600 });
  chmodSync(`${file}.tmp`, 0o600);
  renameSync(`${file}.tmp`, file);
  return k;
}

export class MlsStore {
  readonly records: Sublevel;

  constructor(readonly db: Db, readonly committer: GroupCommitter, private readonly key: Buffer) {
    this.records = sublevel(db, 'mls');
  }

  static open(db: Db, committer: GroupCommitter, dataDir: string): MlsStore {
    return new MlsStore(db, committer, loadOrCreateAtRestKey(dataDir));
  }

  seal(recordKey: string, value: unknown): Buffer {
    const nonce = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, nonce);
    c.setAAD(Buffer.from(recordKey));
    return Buffer.concat([nonce, c.update(packr.pack(value)), c.final(), c.getAuthTag()]);
  }

  open<T>(recordKey: string, blob: unknown): T {
    if (!(blob instanceof Uint8Array) || blob.length < 28) throw new MlsRecordUnreadable(recordKey, 'not a sealed record');
    const b = Buffer.from(blob);
    try {
      const d = createDecipheriv('aes-256-gcm', this.key, b.subarray(0, 12));
      d.setAAD(Buffer.from(recordKey));
      d.setAuthTag(b.subarray(b.length - 16));
      return packr.unpack(Buffer.concat([d.update(b.subarray(12, b.length - 16)), d.final()])) as T;
    } catch (e) {
      throw new MlsRecordUnreadable(recordKey, (e as Error).message || 'authentication failed');
    }
  }

  /** undefined when absent; MlsRecordUnreadable when present but not openable. */
  async get<T>(recordKey: string): Promise<T | undefined> {
    const blob = await this.records.get(recordKey);
    return blob === undefined ? undefined : this.open<T>(recordKey, blob);
  }

  /** Every record under a prefix, in key order; unreadable ones come back with `error`. */
  async list<T>(prefix: string, limit = Infinity, fromKey = prefix): Promise<Array<{ key: string; value?: T; error?: string }>> {
    const out: Array<{ key: string; value?: T; error?: string }> = [];
    for await (const [key, blob] of this.records.iterator({ gte: fromKey > prefix ? fromKey : prefix, lt: prefix + '\xff' }) as AsyncIterable<[string, unknown]>) {
      try {
        out.push({ key, value: this.open<T>(key, blob) });
      } catch (e) {
        out.push({ key, error: (e as Error).message });
      }
      if (out.length >= limit) break;
    }
    return out;
  }

  async keys(prefix: string): Promise<string[]> {
    const out: string[] = [];
    for await (const k of this.records.keys({ gte: prefix, lt: prefix + '\xff' }) as AsyncIterable<string>) out.push(k);
    return out;
  }

  /** The batch operations for `ops` (to join another subsystem's atomic batch). */
  batchOps(ops: MlsOp[]): BatchOp[] {
    return ops.map((o) => ('delete' in o
      ? { type: 'del', key: o.key, sublevel: this.records }
      : { type: 'put', key: o.key, value: this.seal(o.key, o.value), sublevel: this.records }));
  }

  /** Atomic and durable (one fsync'd batch, shared through group commit). */
  write(ops: MlsOp[]): Promise<void> {
    return this.committer.write(this.batchOps(ops));
  }

  /** Raw sealed bytes of every record (export keeps them opened; tests corrupt them). */
  async rawEntries(prefix = ''): Promise<Array<[string, Buffer]>> {
    const out: Array<[string, Buffer]> = [];
    for await (const [k, v] of this.records.iterator({ gte: prefix, lt: prefix + '\xff' }) as AsyncIterable<[string, unknown]>) out.push([k, Buffer.from(v as Uint8Array)]);
    return out;
  }
}
