// The node's RNS identity lives in its data directory as the reference's 64-byte identity file (§5), so the
// destination hash — and therefore the node's `rns://` peer URL — survives restarts.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { RnsIdentity } from './identity.js';

export const IDENTITY_FILE = 'rns/identity';

export function loadOrCreateIdentity(dataDir: string | undefined): RnsIdentity {
  if (!dataDir) return RnsIdentity.generate();
  const file = join(dataDir, IDENTITY_FILE);
  let bytes: Buffer | null = null;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (bytes) return RnsIdentity.fromPrivateKey(bytes);
  const id = RnsIdentity.generate();
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, id.privateKey, { mode: 0o600 });
  renameSync(tmp, file);
  return id;
}
