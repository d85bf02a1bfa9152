// `infonet node run` and `infonet status`: the node as a long-lived process, and asking a running one how it is.
// (`record` / `replay` are cli/record.ts.)
import { join } from 'node:path';
import { InfonetClient } from '../bus/client.js';
import { COMMANDS } from '../bus/commands.js';
import { encodeNodeToken } from '../bus/subjects.js';
import { ErrorCodes, isInfonetError } from '../protocol/errors.js';
import { resolveConfig, type ConfigFlags } from '../node/config.js';
import { defaultLogger, InfonetNode } from '../node/infonet-node.js';
import { parse, printJson, reportError, UsageError } from './args.js';
import { untilStopped } from '../bus/stop-signal.js';
import { BUS_CLI_OPTIONS, connectFromArgs } from './connect.js';

const NODE_USAGE = `usage:
  infonet node run --data DIR [--nats URL [--creds FILE]] [--leaf nats-leaf://HOST:PORT --leaf-creds FILE] [--config FILE] [--nats-port N]
                   [--http-host HOST] [--http-port N] [--log-level LEVEL]
                   [--tor | --tor-control HOST:PORT [--tor-cookie FILE | --tor-password-file FILE]] [--onion-port N]
                   [--tor-torrc-extra FILE]   (onion transport: docs/onion.md)
                   [--rns] [--rns-connect HOST:PORT[,…]] [--rns-listen HOST:PORT] [--rns-announce-interval-s N]   (docs/rns.md)
  (settings, env vars and defaults: docs/configuration.md)`;

const io = { out: (l: string) => console.log(l), err: (l: string) => console.error(l) };

async function runNode(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    data: { type: 'string' }, nats: { type: 'string' }, creds: { type: 'string' }, leaf: { type: 'string' }, 'leaf-creds': { type: 'string' },
    config: { type: 'string' },
    'nats-port': { type: 'string' }, 'http-host': { type: 'string' }, 'http-port': { type: 'string' }, 'log-level': { type: 'string' },
    'quarantine-corrupt': { type: 'boolean' },
    tor: { type: 'boolean' }, 'tor-control': { type: 'string' }, 'tor-cookie': { type: 'string' }, 'tor-password-file': { type: 'string' },
    'onion-port': { type: 'string' }, 'tor-torrc-extra': { type: 'string' },
    rns: { type: 'boolean' }, 'rns-connect': { type: 'string' }, 'rns-listen': { type: 'string' }, 'rns-announce-interval-s': { type: 'string' },
    'metrics-public-loopback': { type: 'boolean' },
  });
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}\n${NODE_USAGE}`);
  const flags: ConfigFlags = {
    data: values.data, nats: values.nats, creds: values.creds, leaf: values.leaf, leafCreds: values['leaf-creds'], natsPort: values['nats-port'], httpHost: values['http-host'],
    httpPort: values['http-port'], logLevel: values['log-level'], quarantineCorrupt: values['quarantine-corrupt'] ? 'true' : undefined,
    tor: values.tor ? 'true' : undefined, torControl: values['tor-control'], torCookie: values['tor-cookie'],
    torPasswordFile: values['tor-password-file'], onionPort: values['onion-port'], torTorrcExtra: values['tor-torrc-extra'],
    rns: values.rns ? 'true' : undefined, rnsTcpConnect: values['rns-connect'], rnsTcpListen: values['rns-listen'], rnsAnnounceIntervalS: values['rns-announce-interval-s'],
    metricsPublicLoopback: values['metrics-public-loopback'] ? 'true' : undefined,
  };
  let config;
  try {
    config = resolveConfig({ flags, env: process.env, configPath: values.config });
  } catch (e) {
    throw isInfonetError(e) && e.code === ErrorCodes.BAD_INPUT ? new UsageError(e.reason) : e;
  }
  if (!config.data) throw new UsageError(`--data DIR is required\n${NODE_USAGE}`);
  const logger = defaultLogger(config.logLevel);
  // issue 8 item 4: a clamped timeout is announced, naming the setting, instead of silently misbehaving
  for (const w of config.warnings) logger.warn({ setting: w.split('=')[0] }, w);
  // The node answers on the bus before start() resolves: a SIGTERM in that window must still stop it gracefully
  // (Node's default action would kill it and the next start would report an unclean stop).
  const signalled = untilStopped();
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
  if (node.onion?.url) io.out(`  onion:     ${node.onion.url}   (peer URL ${node.settings.peers.publicPeerUrl})`);
  io.out(`  commands:  infonet.${token}.cmd.<area>.<verb>   (${COMMANDS.join(', ')})`);
  io.out(`  events:    infonet.${token}.evt.<kind>`);
  io.out(`  discover:  nats micro ls --server ${node.natsUrl}   (service "infonet")`);
  const operatorCreds = node.natsServer ? join(node.dataDir, 'nats', 'auth', 'operator.nk') : '<your --creds FILE>';
  io.out(`  creds:     ${operatorCreds}   (operator credential: this node's commands and events; docs/bus-auth.md)`);
  io.out(`  try:       infonet status --nats ${node.natsUrl} --creds ${operatorCreds} --node '${node.nodeId}'`);
  const exited = node.natsServer?.exited.then(() => 'nats-server exited');
  const why = await Promise.race(exited ? [signalled, exited] : [signalled]);
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

/** `infonet status --nats URL [--creds FILE] [--node ID]`: one node's status, or every node discovered on the bus. */
export async function statusCommand(args: string[]): Promise<number> {
  try {
    const { values } = parse(args, { ...BUS_CLI_OPTIONS, 'timeout-ms': { type: 'string' } }, false);
    const url = values.nats ?? process.env.INFONET_NATS_URL;
    if (!url) throw new UsageError('usage: infonet status --nats URL [--creds FILE] [--node ID]');
    const nc = await connectFromArgs({ nats: url, creds: values.creds, name: 'infonet-status' });
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

