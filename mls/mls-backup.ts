// Encrypted backup of a node's MLS state (issue 12 "export/import"). Export runs inside the running node's owner
// (a consistent cut of every record, opened); the backup is sealed under a passphrase: scrypt (N=2^15, r=8, p=1,
// 16-byte salt) → AES-256-GCM over the msgpack of the records. Import restores it into a *stopped* node: it opens
// the data directory's LevelDB, which fails with "data directory in use" while a node owns it, and re-seals every
// record under that node's at-rest key.
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { ErrorCodes, InfonetError } from '../protocol/errors.js';
import { openDatabase } from '../store/db.js';
import { GroupCommitter } from '../store/group-commit.js';
import { MlsStore } from '../store/mls-store.js';
import { msgpackrBigInt as packr } from '../protocol/msgpack.js';

const MAGIC = 'infonet-mls-backup-v1';
export const BACKUP_MAX_BYTES = 64 * 1024 * 1024;

const bad = (reason: string): never => {
  throw new InfonetError(ErrorCodes.BAD_INPUT, reason);
};

function keyFor(passphrase: string, salt: Buffer): Buffer {
  if (typeof passphrase !== 'string' || passphrase.length < 8) bad('passphrase must be at least 8 characters');
  return scryptSync(passphrase, salt, 32, { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
}

export function sealBackup(records: Array<[string, unknown]>, passphrase: string): string {
  const salt = randomBytes(16);
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', keyFor(passphrase, salt), nonce);
  c.setAAD(Buffer.from(MAGIC));
  const body = Buffer.concat([c.update(packr.pack({ magic: MAGIC, records })), c.final(), c.getAuthTag()]);
  return JSON.stringify({ format: MAGIC, salt: salt.toString('base64'), nonce: nonce.toString('base64'), data: body.toString('base64') });
}

export function openBackup(text: string, passphrase: string): Array<[string, unknown]> {
  if (text.length > BACKUP_MAX_BYTES) bad('backup too large');
  let o: { format?: string; salt?: string; nonce?: string; data?: string };
  try {
    o = JSON.parse(text) as typeof o;
  } catch {
    return bad('backup is not JSON');
  }
  if (o.format !== MAGIC) bad('not an infonet MLS backup');
  const data = Buffer.from(String(o.data), 'base64');
  try {
    const d = createDecipheriv('aes-256-gcm', keyFor(passphrase, Buffer.from(String(o.salt), 'base64')), Buffer.from(String(o.nonce), 'base64'));
    d.setAAD(Buffer.from(MAGIC));
    d.setAuthTag(data.subarray(data.length - 16));
    const inner = packr.unpack(Buffer.concat([d.update(data.subarray(0, data.length - 16)), d.final()])) as { magic: string; records: Array<[string, unknown]> };
    if (inner.magic !== MAGIC || !Array.isArray(inner.records)) throw new Error('bad inner');
    return inner.records;
  } catch (e) {
    if (e instanceof InfonetError) throw e;
    return bad('cannot open backup: wrong passphrase or damaged file');
  }
}

/** Restores a backup into the data directory of a stopped node; refuses (store_locked) while a node runs on it. */
export async function importBackup(dataDir: string, text: string, passphrase: string): Promise<{ records: number }> {
  // The directory lock first: a running node's data directory is refused before anything else is looked at.
  const db = await openDatabase(dataDir);
  try {
    const records = openBackup(text, passphrase);
    const store = MlsStore.open(db, new GroupCommitter(db), dataDir);
    await store.write(records.map(([key, value]) => ({ key, value })));
    return { records: records.length };
  } finally {
    await db.close();
  }
}
