// `infonet dm …`: seal/open DMs on the client (keys never leave it) and talk to the DM relay of a data
// directory or of a running node (deposit, poll, count, claim, pending-ids, block/unblock). Output is JSON;
// rejections exit 1 with {ok:false, code, reason}; bad usage exits 2 with a usage line.
// Against a running node (--nats) every mailbox request is signed with --key (issue 8, docs/mailbox-access.md);
// the sequence is the current time in ms, so a client needs no counter. The data-directory form (--data) is the
// local operator's and stays unsigned.
import { readFileSync } from 'node:fs';
import { MailboxRegistry } from '../actors/mailbox-registry.js';
import type { InfonetClient } from '../bus/client.js';
import type { BlockAction } from '../protocol/block-list.js';
import type { Identity } from '../protocol/identity.js';
import { BUS_CLI_OPTIONS, clientFromArgs } from './connect.js';
import { systemClock } from '../protocol/clock.js';
import { makeSenderProof } from '../protocol/dm-sender-proof.js';
import { generateDmKeypair, openDm, sealDm } from '../protocol/dm-seal.js';
import { isInfonetError } from '../protocol/errors.js';
import { identityFromKeyFile } from '../protocol/identity.js';
import { sha256Hex, type MailboxClaim } from '../protocol/mailbox-keys.js';
import { generateMsgId } from '../protocol/mailbox-rules.js';
import { loadSettings } from '../protocol/settings.js';
import { openDatabase } from '../store/db.js';
import { MailboxStore } from '../store/mailbox-store.js';
import { parse, printJson, readJsonFile, UsageError, writeOutput } from './args.js';

const DM_USAGE = `usage:
  infonet dm keygen [--out FILE]
  infonet dm seal --to RECIPIENT_DM_PUBKEY_B64 (--in FILE | --text T)
  infonet dm open --key DMKEYFILE (--in FILE | --ciphertext C)
  infonet dm deposit --data DIR --key KEYFILE (--to RECIPIENT_ID | --shared-token TOKEN) (--ciphertext C | --in FILE) [--msg-id ID]
  infonet dm poll --data DIR (--recipient ID --token T | --shared-token TOKEN) [--limit N]
  infonet dm count|pending-ids --data DIR (--recipient ID --token T | --shared-token TOKEN)
  infonet dm claim --data DIR (--recipient ID --token T | --shared-token TOKEN) --msg-id ID[,ID…]
  infonet dm block|unblock --data DIR --recipient ID --sender SENDER_ID
  (every command above takes --nats URL --node ID [--creds FILE] instead of --data DIR to act on a running node;
   poll, count, pending-ids, claim, block and unblock then need --key KEYFILE: the request is signed with it and
   the agent/recipient is the key's node id)`;

/** Request deposits need a sender token hash (§7.5.4); the CLI derives a stable one per (sender, recipient). */
export const cliSenderTokenHash = (nodeId: string, recipientId: string): string => sha256Hex(`infonet-dm-sender|${nodeId}|${recipientId}`);

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

function need(v: string | undefined, what: string): string {
  if (v === undefined || v === '') throw new UsageError(`missing ${what}`);
  return v;
}

/** What the CLI needs from a relay: the data directory's registry, or a running node through the bus client. */
interface RelayOps {
  deposit: MailboxRegistry['deposit'];
  poll(agent: string, claims: MailboxClaim[], limit?: number): Promise<unknown>;
  count(agent: string, claims: MailboxClaim[]): Promise<number>;
  pendingIds(agent: string, claims: MailboxClaim[]): Promise<string[]>;
  claim(agent: string, claims: MailboxClaim[], msgIds: string[]): Promise<unknown>;
  block(recipient: string, sender: string, action: BlockAction): Promise<unknown>;
}

/** A running node: the client signs each mailbox request with the caller's key (never sent). */
function busOps(c: InfonetClient, id: Identity | undefined): RelayOps {
  const key = (): Identity => {
    if (!id) throw new UsageError('--key KEYFILE is required with --nats (mailbox requests are signed)');
    return id;
  };
  return {
    deposit: (req) => c.dmDeposit(req),
    poll: (_a, claims, limit) => c.dmPoll(key(), claims, limit),
    count: async (_a, claims) => (await c.dmCount(key(), claims)).count,
    pendingIds: async (_a, claims) => (await c.dmPendingIds(key(), claims)).msg_ids,
    claim: (_a, claims, msgIds) => c.dmClaim(key(), claims, msgIds),
    block: (_r, sender, action) => c.dmBlock(key(), sender, action),
  };
}

/** The local operator's data directory: the registry's trusting methods, no signatures. */
function localOps(r: MailboxRegistry): RelayOps {
  return {
    deposit: (req) => r.deposit(req),
    poll: (a, claims, limit) => r.poll(a, claims, limit),
    count: (a, claims) => r.count(a, claims),
    pendingIds: (a, claims) => r.pendingIds(a, claims),
    claim: async (a, claims, msgIds) => ({ messages: await r.claim(a, claims, msgIds) }),
    block: async (rid, sender, action) => ({ ok: true, action, sender_id: sender, ...(await r.setBlocked(rid, sender, action)) }),
  };
}

async function withRelay<T>(
  where: { data?: string; nats?: string; node?: string; creds?: string }, id: Identity | undefined, fn: (r: RelayOps) => Promise<T>,
  opts: { readOnly?: boolean } = {},
): Promise<T> {
  if (where.nats) {
    if (where.data) throw new UsageError('use either --data DIR or --nats URL --node ID');
    const c = await clientFromArgs({ nats: where.nats, node: need(where.node, '--node (with --nats)'), creds: where.creds, name: 'infonet-dm' });
    try {
      return await fn(busOps(c, id));
    } finally {
      await c.close();
    }
  }
  const dataDir = need(where.data, '--data (or --nats URL --node ID)');
  const settings = loadSettings(process.env);
  // Read-only commands (count, pending ids) work on a snapshot and never change the store (issue 8 item 2).
  const db = await openDatabase(dataDir, { readOnly: opts.readOnly === true });
  try {
    const registry = await MailboxRegistry.open(new MailboxStore(db), { settings: settings.relay, spoolTtlS: settings.chain.spool.ttlS, clock: systemClock });
    try {
      return await fn(localOps(registry));
    } finally {
      await registry.close();
    }
  } finally {
    await db.close();
  }
}

function readIdentity(path: string | undefined): Identity | undefined {
  if (!path) return undefined;
  try {
    return identityFromKeyFile(readJsonFile(path));
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError((e as Error).message);
  }
}

/** The agent is the signing key's node id when a key is given (a signed request can be for nobody else). */
function claimsFrom(values: { recipient?: string; token?: string; 'shared-token'?: string }, id?: Identity): { agent: string; claims: MailboxClaim[] } {
  if (id && values.recipient && values.recipient !== id.nodeId) throw new UsageError(`--recipient must be the key's node id (${id.nodeId})`);
  const agent = id?.nodeId ?? values.recipient;
  if (values['shared-token']) return { agent: agent ?? '', claims: [{ type: 'shared', token: values['shared-token'] }] };
  return { agent: need(agent, '--recipient or --key (or --shared-token)'), claims: [{ type: 'requests', token: need(values.token, '--token') }] };
}

const mailboxOptions = {
  data: { type: 'string' }, recipient: { type: 'string' }, token: { type: 'string' }, 'shared-token': { type: 'string' }, limit: { type: 'string' },
  key: { type: 'string' }, 'msg-id': { type: 'string' }, sender: { type: 'string' }, ...BUS_CLI_OPTIONS,
} as const;

async function run(sub: string | undefined, args: string[]): Promise<number> {
  switch (sub) {
    case 'keygen': {
      const { values } = parse(args, { out: { type: 'string' } }, false);
      writeOutput(JSON.stringify({ kind: 'infonet-dm-x25519', ...generateDmKeypair() }, null, 2), values.out);
      if (values.out) process.stderr.write(`DM key written to ${values.out} (mode 600); share only its public_key\n`);
      return 0;
    }
    case 'seal': {
      const { values } = parse(args, { to: { type: 'string' }, in: { type: 'string' }, text: { type: 'string' } }, false);
      const to = need(values.to, '--to');
      const text = values.text ?? (values.in ? readText(values.in) : undefined);
      if (text === undefined) throw new UsageError('missing --text or --in');
      let ciphertext: string;
      try {
        ciphertext = sealDm(text, to);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      printJson({ ciphertext });
      return 0;
    }
    case 'open': {
      const { values } = parse(args, { key: { type: 'string' }, in: { type: 'string' }, ciphertext: { type: 'string' } }, false);
      const key = readJsonFile(need(values.key, '--key')) as { secret_key?: unknown };
      if (typeof key?.secret_key !== 'string') throw new UsageError('DM key file has no secret_key (create one with "infonet dm keygen")');
      const ct = (values.ciphertext ?? (values.in ? readText(values.in) : '')).trim();
      if (!ct) throw new UsageError('missing --ciphertext or --in');
      try {
        printJson({ plaintext: openDm(ct, key.secret_key) });
        return 0;
      } catch (e) {
        printJson({ ok: false, code: 'bad_input', reason: (e as Error).message });
        return 1;
      }
    }
    case 'deposit': {
      const { values } = parse(args, {
        data: { type: 'string' }, key: { type: 'string' }, to: { type: 'string' }, 'shared-token': { type: 'string' },
        ciphertext: { type: 'string' }, in: { type: 'string' }, 'msg-id': { type: 'string' }, ...BUS_CLI_OPTIONS,
      }, false);
      if (!values.data && !values.nats) throw new UsageError('missing --data (or --nats URL --node ID)');
      let id;
      try {
        id = identityFromKeyFile(readJsonFile(need(values.key, '--key')));
      } catch (e) {
        if (e instanceof UsageError) throw e;
        throw new UsageError((e as Error).message);
      }
      if (!values.to === !values['shared-token']) throw new UsageError('give exactly one of --to or --shared-token');
      const ciphertext = (values.ciphertext ?? (values.in ? readText(values.in) : '')).trim();
      if (!ciphertext) throw new UsageError('missing --ciphertext or --in');
      const msgId = values['msg-id'] ?? generateMsgId(systemClock());
      const target = values.to
        ? { delivery_class: 'request', recipient_id: values.to, sender_token_hash: cliSenderTokenHash(id.nodeId, values.to) }
        : { delivery_class: 'shared', recipient_token: values['shared-token'] };
      const sender_proof = makeSenderProof(id.seed, { ...target, msg_id: msgId, ciphertext });
      const res = await withRelay(values, id, (r) => r.deposit({ sender_id: id.nodeId, ciphertext, msg_id: msgId, sender_proof, ...target }));
      printJson(res);
      return 0;
    }
    case 'poll':
    case 'count':
    case 'pending-ids':
    case 'claim': {
      const { values } = parse(args, mailboxOptions, false);
      if (!values.data && !values.nats) throw new UsageError('missing --data (or --nats URL --node ID)');
      const id = readIdentity(values.key);
      const { agent, claims } = claimsFrom(values, id);
      if (sub === 'count') {
        printJson({ ok: true, count: await withRelay(values, id, (r) => r.count(agent, claims), { readOnly: true }) });
        return 0;
      }
      if (sub === 'pending-ids') {
        printJson({ ok: true, msg_ids: await withRelay(values, id, (r) => r.pendingIds(agent, claims), { readOnly: true }) });
        return 0;
      }
      if (sub === 'claim') {
        const ids = need(values['msg-id'], '--msg-id').split(',').map((x) => x.trim()).filter(Boolean);
        printJson({ ok: true, ...(await withRelay(values, id, (r) => r.claim(agent, claims, ids)) as object) });
        return 0;
      }
      const limit = values.limit === undefined ? undefined : Number(values.limit);
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new UsageError('--limit must be a positive integer');
      printJson({ ok: true, ...(await withRelay(values, id, (r) => r.poll(agent, claims, limit)) as object) });
      return 0;
    }
    case 'block':
    case 'unblock': {
      const { values } = parse(args, mailboxOptions, false);
      if (!values.data && !values.nats) throw new UsageError('missing --data (or --nats URL --node ID)');
      const id = readIdentity(values.key);
      const recipient = id?.nodeId ?? need(values.recipient, '--recipient (or --key)');
      const sender = need(values.sender, '--sender');
      printJson(await withRelay(values, id, (r) => r.block(recipient, sender, sub)));
      return 0;
    }
    default:
      throw new UsageError(sub ? `unknown dm command: ${sub}` : 'missing dm command');
  }
}

export async function dmCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  // `infonet dm session …`: MLS DM sessions through the running node (issue 12, cli/session.ts).
  if (sub === 'session') return (await import('./session.js')).sessionCommand(rest);
  try {
    return await run(sub, rest);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`error: ${e.message}\n${DM_USAGE}\n`);
      return 2;
    }
    if (isInfonetError(e)) {
      printJson({ ok: false, ...e.toJSON() });
      return 1;
    }
    process.stderr.write(`error: ${(e as Error)?.stack ?? String(e)}\n`);
    return 2;
  }
}
