// `infonet dm …`: seal/open DMs on the client (keys never leave it) and talk to the DM relay of a data
// directory (deposit, poll, count). Output is JSON; rejections exit 1 with {ok:false, code, reason};
// bad usage exits 2 with a usage line.
import { readFileSync } from 'node:fs';
import { MailboxRegistry } from '../actors/mailbox-registry.js';
import { InfonetClient } from '../bus/client.js';
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
  infonet dm count --data DIR (--recipient ID --token T | --shared-token TOKEN)
  (deposit, poll and count take --nats URL --node ID instead of --data DIR to act on a running node)`;

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
type RelayOps = Pick<MailboxRegistry, 'deposit' | 'poll' | 'count'>;

async function withRelay<T>(where: { data?: string; nats?: string; node?: string }, fn: (r: RelayOps) => Promise<T>): Promise<T> {
  if (where.nats) {
    if (where.data) throw new UsageError('use either --data DIR or --nats URL --node ID');
    const c = await InfonetClient.connect(where.nats, need(where.node, '--node (with --nats)'), { name: 'infonet-dm' }).catch((e: Error) => {
      throw new UsageError(`cannot connect to ${where.nats}: ${e.message}`);
    });
    try {
      return await fn({
        deposit: (req) => c.dmDeposit(req),
        poll: (agent, claims, limit) => c.dmPoll(agent, [...claims], limit),
        count: async (agent, claims) => (await c.dmCount(agent, [...claims])).count,
      });
    } finally {
      await c.close();
    }
  }
  const dataDir = need(where.data, '--data (or --nats URL --node ID)');
  const settings = loadSettings(process.env);
  const db = await openDatabase(dataDir);
  try {
    const registry = await MailboxRegistry.open(new MailboxStore(db), { settings: settings.relay, spoolTtlS: settings.chain.spool.ttlS, clock: systemClock });
    try {
      return await fn(registry);
    } finally {
      await registry.close();
    }
  } finally {
    await db.close();
  }
}

function claimsFrom(values: { recipient?: string; token?: string; 'shared-token'?: string }): { agent: string; claims: MailboxClaim[] } {
  if (values['shared-token']) return { agent: values.recipient ?? '', claims: [{ type: 'shared', token: values['shared-token'] }] };
  return { agent: need(values.recipient, '--recipient (or --shared-token)'), claims: [{ type: 'requests', token: need(values.token, '--token') }] };
}

const mailboxOptions = {
  data: { type: 'string' }, recipient: { type: 'string' }, token: { type: 'string' }, 'shared-token': { type: 'string' }, limit: { type: 'string' },
  nats: { type: 'string' }, node: { type: 'string' },
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
        ciphertext: { type: 'string' }, in: { type: 'string' }, 'msg-id': { type: 'string' }, nats: { type: 'string' }, node: { type: 'string' },
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
      const res = await withRelay(values, (r) => r.deposit({ sender_id: id.nodeId, ciphertext, msg_id: msgId, sender_proof, ...target }));
      printJson(res);
      return 0;
    }
    case 'poll':
    case 'count': {
      const { values } = parse(args, mailboxOptions, false);
      if (!values.data && !values.nats) throw new UsageError('missing --data (or --nats URL --node ID)');
      const { agent, claims } = claimsFrom(values);
      if (sub === 'count') {
        printJson({ ok: true, count: await withRelay(values, (r) => r.count(agent, claims)) });
        return 0;
      }
      const limit = values.limit === undefined ? undefined : Number(values.limit);
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new UsageError('--limit must be a positive integer');
      printJson({ ok: true, ...(await withRelay(values, (r) => r.poll(agent, claims, limit))) });
      return 0;
    }
    default:
      throw new UsageError(sub ? `unknown dm command: ${sub}` : 'missing dm command');
  }
}

export async function dmCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
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
