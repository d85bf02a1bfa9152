// Bus credentials (docs/bus-auth.md): NATS nkeys generated into the data directory for a node's embedded server,
// user/password pairs for leaf links (nats-server 2.9 leaf remotes authenticate with a URL user:password, not with a
// bare nkey), and the file format `--creds FILE` reads.
//
//   <data>/nats/auth/service.nk    the node's own connection (seed; the node reads it, nobody else needs it)
//   <data>/nats/auth/operator.nk   the CLI / harness credential for this node: `--creds <data>/nats/auth/operator.nk`
//   <data>/nats/auth/peer.nk       for another node that connects as a client to call this node's peer routes
//
// A creds file holds either an nkey user seed (`SU…`, the format `nats --nkey FILE` also reads) or JSON
// `{"user": "…", "password": "…"}` (what `infonet hub issue-leaf` writes). Files are written mode 600 in a 700
// directory; seeds and passwords are never logged.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createUser, fromSeed } from '@nats-io/nkeys';
import { nkeyAuthenticator, usernamePasswordAuthenticator, type Authenticator } from '@nats-io/transport-node';
import { ErrorCodes, InfonetError } from '../protocol/errors.js';
import { NODE_ROLES, type NodeRole } from './permissions.js';

export type BusCredentials = { kind: 'nkey'; seed: string; publicKey: string } | { kind: 'user'; user: string; password: string };

/** Writes `text` to `file` mode 600 atomically (tmp + rename), its directory mode 700. */
export function writeSecretFile(file: string, text: string): void {
  const dir = join(file, '..');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

export function newNkeyUser(): BusCredentials & { kind: 'nkey' } {
  const kp = createUser();
  return { kind: 'nkey', seed: new TextDecoder().decode(kp.getSeed()), publicKey: kp.getPublicKey() };
}

export function newPassword(): string {
  return randomBytes(24).toString('base64url');
}

/** Parses creds file text (see the header). Throws BAD_INPUT naming `where` — never echoing the secret. */
export function parseCreds(text: string, where: string): BusCredentials {
  const t = text.trim();
  if (/^SU[A-Z2-7]{50,}$/.test(t)) {
    try {
      const kp = fromSeed(new TextEncoder().encode(t));
      return { kind: 'nkey', seed: t, publicKey: kp.getPublicKey() };
    } catch {
      throw new InfonetError(ErrorCodes.BAD_INPUT, `${where}: not a valid nkey user seed`);
    }
  }
  if (t.startsWith('{')) {
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch {
      throw new InfonetError(ErrorCodes.BAD_INPUT, `${where}: not valid JSON`);
    }
    const o = v as Record<string, unknown>;
    if (typeof o?.user === 'string' && o.user && typeof o.password === 'string' && o.password) {
      return { kind: 'user', user: o.user, password: o.password };
    }
    if (typeof o?.seed === 'string') return parseCreds(o.seed, where);
    throw new InfonetError(ErrorCodes.BAD_INPUT, `${where}: JSON credentials need "user" and "password" (or "seed")`);
  }
  throw new InfonetError(ErrorCodes.BAD_INPUT, `${where}: expected an nkey user seed (SU…) or JSON {"user","password"}`);
}

export function readCredsFile(file: string): BusCredentials {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new InfonetError(ErrorCodes.BAD_INPUT, `cannot read credentials ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseCreds(text, `credentials ${file}`);
}

export function authenticatorFor(c: BusCredentials): Authenticator {
  return c.kind === 'nkey' ? nkeyAuthenticator(new TextEncoder().encode(c.seed)) : usernamePasswordAuthenticator(c.user, c.password);
}

export interface NodeCredentials {
  dir: string;
  roles: Record<NodeRole, BusCredentials & { kind: 'nkey' }>;
  files: Record<NodeRole, string>;
}

/** Loads `<natsDir>/auth/<role>.nk`, creating missing ones (a node keeps its credentials across restarts). */
export function ensureNodeCredentials(natsDir: string): NodeCredentials {
  const dir = join(natsDir, 'auth');
  const roles = {} as NodeCredentials['roles'];
  const files = {} as NodeCredentials['files'];
  for (const role of NODE_ROLES) {
    const file = join(dir, `${role}.nk`);
    files[role] = file;
    if (existsSync(file)) {
      const c = readCredsFile(file);
      if (c.kind !== 'nkey') throw new InfonetError(ErrorCodes.STORE_CORRUPT, `${file} must hold an nkey seed`);
      roles[role] = c;
    } else {
      const c = newNkeyUser();
      writeSecretFile(file, c.seed + '\n');
      roles[role] = c;
    }
  }
  return { dir, roles, files };
}

// Servers this process started with authentication, by client URL → the operator credentials file. A client in the
// same process that connects without --creds (tests, `replay` into its fresh node, benchmarks) uses these: the
// process that started the server could read the file anyway. Another process always needs --creds.
const localCreds = new Map<string, string>();

export function rememberLocalCredentials(url: string, credsFile: string): void {
  localCreds.set(url, credsFile);
}

export function forgetLocalCredentials(url: string): void {
  localCreds.delete(url);
}

export function localCredentialsFor(url: string): string | undefined {
  return localCreds.get(url) ?? localCreds.get(url.replace(/^nats:\/\//, '')) ?? localCreds.get(`nats://${url}`);
}
