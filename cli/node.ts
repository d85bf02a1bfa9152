// `infonet node run`, `infonet status`, `infonet record`, `infonet replay`: the node as a long-lived process and the
// developer tools around its bus.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { InfonetClient } from '../bus/client.js';
import { decodeSafe, requestTyped } from '../bus/codec.js';
import { COMMANDS, splitCommand, type ChainStatus } from '../bus/commands.js';
import { readRecordingFile, recordCommand, replayCommand, type AfterReplayResult, type Recording } from '../bus/recording.js';
import { cmdSubject, encodeNodeToken, parseSubject } from '../bus/subjects.js';
import { ErrorCodes, isInfonetError } from '../protocol/errors.js';
import { resolveConfig, type ConfigFlags } from '../node/config.js';
import { defaultLogger, InfonetNode } from '../node/infonet-node.js';
import { parse, printJson, reportError, UsageError } from './args.js';
import { untilStopped } from '../bus/stop-signal.js';

const NODE_USAGE = `usage:
  infonet node run --data DIR [--nats URL] [--leaf nats-leaf://HOST:PORT] [--config FILE] [--nats-port N]
                   [--http-host HOST] [--http-port N] [--log-level LEVEL]
  (settings, env vars and defaults: docs/configuration.md)`;

const io = { out: (l: string) => console.log(l), err: (l: string) => console.error(l) };

async function runNode(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    data: { type: 'string' }, nats: { type: 'string' }, leaf: { type: 'string' }, config: { type: 'string' },
    'nats-port': { type: 'string' }, 'http-host': { type: 'string' }, 'http-port': { type: 'string' }, 'log-level': { type: 'string' },
    'quarantine-corrupt': { type: 'boolean' },
  });
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}\n${NODE_USAGE}`);
  const flags: ConfigFlags = {
    data: values.data, nats: values.nats, leaf: values.leaf, natsPort: values['nats-port'], httpHost: values['http-host'],
    httpPort: values['http-port'], logLevel: values['log-level'], quarantineCorrupt: values['quarantine-corrupt'] ? 'true' : undefined,
  };
  let config;
  try {
    config = resolveConfig({ flags, env: process.env, configPath: values.config });
  } catch (e) {
    throw isInfonetError(e) && e.code === ErrorCodes.BAD_INPUT ? new UsageError(e.reason) : e;
  }
  if (!config.data) throw new UsageError(`--data DIR is required\n${NODE_USAGE}`);
  const logger = defaultLogger(config.logLevel);
  let node: InfonetNode;
  try {
    node = await InfonetNode.start({ dataDir: config.data, config, logger });
  } catch (e) {
    if (isInfonetError(e)) {
      process.stderr.write(`error: ${e.reason}\n`);
      return 1;
    }
    throw e;
  }
  const token = encodeNodeToken(node.nodeId);
  io.out(`infonet node ${node.nodeId} ready`);
  io.out(`  data:      ${node.dataDir}`);
  io.out(`  nats url:  ${node.natsUrl}${node.natsServer ? ' (embedded nats-server' + (config.leaf.length ? `, leaf of ${config.leaf.join(', ')})` : ')') : ''}`);
  io.out(`  node id:   ${node.nodeId}`);
  io.out(`  commands:  infonet.${token}.cmd.<area>.<verb>   (${COMMANDS.join(', ')})`);
  io.out(`  events:    infonet.${token}.evt.<kind>`);
  io.out(`  discover:  nats micro ls --server ${node.natsUrl}   (service "infonet")`);
  io.out(`  try:       infonet status --nats ${node.natsUrl} --node '${node.nodeId}'`);
  const why = await untilStopped({ 'nats-server exited': node.natsServer?.exited });
  await node.stop(why);
  io.out(`stopped (${why}): height ${node.chain.length}, head ${node.chain.head}`);
  return why === 'nats-server exited' ? 1 : 0;
}

export async function nodeCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  try {
    if (sub === 'run') return await runNode(rest);
    process.stderr.write(NODE_USAGE + '\n');
    return sub === undefined || sub === '--help' || sub === '-h' ? (sub ? 0 : 2) : 2;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`error: ${e.message}\n`);
      return 2;
    }
    return reportError(e);
  }
}

/** `infonet status --nats URL [--node ID]`: one node's status, or every node discovered on the bus. */
export async function statusCommand(args: string[]): Promise<number> {
  try {
    const { values } = parse(args, { nats: { type: 'string' }, node: { type: 'string' }, 'timeout-ms': { type: 'string' } }, false);
    const url = values.nats ?? process.env.INFONET_NATS_URL;
    if (!url) throw new UsageError('usage: infonet status --nats URL [--node ID]');
    const nc = await connect({ servers: url, name: 'infonet-status' });
    try {
      const timeout = Number(values['timeout-ms'] ?? process.env.INFONET_TIMEOUT_MS ?? 5000) || 5000;
      const ids = values.node ? [values.node] : (await InfonetClient.discover(nc, 500)).map((n) => n.node_id);
      if (ids.length === 0) {
        process.stderr.write(`no infonet node answered $SRV.PING.infonet on ${url}\n`);
        return 1;
      }
      const out = [];
      for (const id of ids) out.push(await new InfonetClient(nc, id, timeout).status());
      printJson(values.node ? out[0] : out);
      return 0;
    } finally {
      await nc.drain().catch(() => undefined);
    }
  } catch (e) {
    return reportError(e);
  }
}

export async function recordCliCommand(args: string[]): Promise<number> {
  return recordCommand(args, io);
}

// ── replay against a node ────────────────────────────────────────────────────────────────────────────────────────

const HEAD_COMMANDS = new Set(['chain.status', 'node.status', 'chain.append', 'chain.ingest', 'chain.export']);
const HEAD_EVENTS = new Set(['chain_appended', 'chain_ingested', 'chain_forked']);

/** The chain head at the end of a recorded session (last head seen in a reply or chain event), and its node. */
export function recordedFinalHead(rec: Recording): { head?: string; node?: string } {
  const cmdOf = new Map<number, string>();
  let head: string | undefined;
  let node: string | undefined;
  for (const e of rec.entries) {
    const p = e.kind === 'reply' ? null : parseSubject(e.subject);
    if (e.kind === 'cmd' && p?.type === 'cmd') {
      node ??= p.node;
      if (e.corr !== undefined) cmdOf.set(e.corr, `${p.area}.${p.verb}`);
      continue;
    }
    let candidate: unknown;
    if (e.kind === 'reply' && e.corr !== undefined && HEAD_COMMANDS.has(cmdOf.get(e.corr) ?? '')) {
      const d = decodeSafe<{ ok?: boolean; result?: { head?: unknown } }>(e.data);
      if (d.ok && d.value?.ok) candidate = d.value.result?.head;
    } else if (e.kind === 'evt' && p?.type === 'evt' && HEAD_EVENTS.has(p.kind)) {
      const d = decodeSafe<{ head?: unknown }>(e.data);
      if (d.ok) candidate = d.value?.head;
    }
    if (typeof candidate === 'string') head = candidate;
  }
  return { head, node };
}

const GENERATED_MSG_ID = /^dm_\d+_[0-9a-f]{12}$/;

/** Blanks what legitimately differs between two runs of the same commands (clock readings, node identity). */
export function normalizeReply(subject: string, value: unknown): unknown {
  const p = parseSubject(subject);
  if (!p || p.type !== 'cmd' || typeof value !== 'object' || value === null) return value;
  const env = value as { ok?: boolean; result?: Record<string, unknown> };
  if (!env.ok || typeof env.result !== 'object' || env.result === null) return value;
  const cmd = `${p.area}.${p.verb}`;
  const r = { ...env.result };
  if (cmd === 'node.status') return { ok: true, result: { height: r.height, head: r.head } };
  if (cmd === 'dm.deposit' && typeof r.msg_id === 'string' && GENERATED_MSG_ID.test(r.msg_id)) r.msg_id = 'dm_<generated>';
  if ((cmd === 'dm.poll' || cmd === 'dm.claim') && Array.isArray(r.messages)) {
    r.messages = r.messages.map((m: unknown) => {
      if (typeof m !== 'object' || m === null) return m;
      const { timestamp: _t, ...rest } = m as Record<string, unknown>;
      if (typeof rest.msg_id === 'string' && GENERATED_MSG_ID.test(rest.msg_id)) rest.msg_id = 'dm_<generated>';
      return rest;
    });
  }
  return { ok: true, result: r };
}

/**
 * `infonet replay FILE [--nats URL] [--to-node ID] [--speed original|max|N]`. Without --nats, a fresh node (temp data
 * dir, embedded NATS) is started, the recording is aimed at it, and it is removed afterwards. Reports every reply
 * that differs and whether the final chain head matches the recorded one.
 */
export async function replayCliCommand(args: string[]): Promise<number> {
  const file = args.find((a, i) => !a.startsWith('--') && (i === 0 || !['--nats', '--speed', '--timeout-ms', '--to-node'].includes(args[i - 1])));
  let recording: Recording;
  if (!file) {
    io.err('usage: infonet replay FILE [--nats URL] [--to-node ID] [--speed original|max|N] [--timeout-ms N]');
    return 2;
  }
  try {
    recording = await readRecordingFile(file);
  } catch (e) {
    io.err(`replay: ${(e as Error).message}`);
    return 2;
  }
  const recorded = recordedFinalHead(recording);
  const hasNats = args.includes('--nats');
  let fresh: { node: InfonetNode; dir: string } | undefined;
  let replayArgs = args;
  if (!hasNats) {
    const dir = mkdtempSync(join(tmpdir(), 'infonet-replay-'));
    const node = await InfonetNode.start({ dataDir: dir, logger: defaultLogger(process.env.INFONET_LOG_LEVEL ?? 'warn') });
    fresh = { node, dir };
    io.err(`replay: started a fresh node ${node.nodeId} on ${node.natsUrl}`);
    replayArgs = [...args.filter((_, i) => !(args[i] === '--to-node' || args[i - 1] === '--to-node')), '--nats', node.natsUrl, '--to-node', node.nodeId];
  }
  const toIdx = replayArgs.indexOf('--to-node');
  const target = toIdx >= 0 ? replayArgs[toIdx + 1] : recorded.node;
  try {
    return await replayCommand(replayArgs, io, {
      normalize: normalizeReply,
      afterReplay: async (nc: NatsConnection): Promise<AfterReplayResult> => {
        if (!target) return { headMatches: recorded.head === undefined };
        const [area, verb] = splitCommand('chain.status');
        const now = await requestTyped<ChainStatus>(nc, cmdSubject(target, area, verb), null);
        const expected = recorded.head ?? '0'.repeat(64);
        io.out(`final chain head: recorded ${expected}, replayed ${now.head} (height ${now.height})`);
        return { headMatches: now.head === expected, expected, actual: now.head };
      },
    });
  } finally {
    if (fresh) {
      await fresh.node.stop('replay done');
      rmSync(fresh.dir, { recursive: true, force: true });
    }
  }
}
