// `infonet harness run <scenario> [options]` / `infonet harness list`: option parsing for the scenarios in harness/
// (which exports functions only, so harness/ never imports cli/).
import { runGateInviteCli, runOfflineRecipientCli, runPartitionCli, SCENARIOS } from '../harness/run.js';
import { parse, UsageError } from './args.js';

export const HARNESS_USAGE = `usage:
  infonet harness run offline-recipient [--nodes N] [--dms N] [--class request|shared] [--transport http|bus|onion|rns]
                                        [--rns-connect tcp://HOST:PORT[,…]]
                                        [--run-dir DIR] [--keep] [--step-timeout-ms N]
  infonet harness run partition [--nodes N] [--events N] [--dms N] [--transport http|bus|onion|rns] [--partition-s N]
                                [--sync-interval-s N] [--run-dir DIR] [--keep]
  infonet harness run gate-invite [--posts N] [--transport http|bus|onion|rns] [--run-dir DIR] [--keep]
  infonet harness list

  offline-recipient  Alice sends sealed DMs to Bob via node A while Bob is offline; A replicates and is killed
                     (SIGKILL); Bob polls node C and decrypts; acks prune the copies on B; Alice's quota is free
                     again on every surviving node. Defaults: 3 nodes, 20 DMs, request mail, HTTP peers on 127.0.0.1.
  partition          B is cut off (SIGKILL) before anything is written; events are appended at A and C and DMs
                     deposited at A; B comes back: every acknowledged event and DM must reach every node, heads
                     equal, no node's height ever goes down (docs/sync.md). Defaults: 3 nodes, 5 events, 5 DMs.
  gate-invite        Alice (A) creates an MLS gate and invites Bob (C, offline) and Carol (B); Bob accepts on C's
                     live API; posts decrypt on B and C; Carol removed cannot read later posts; C SIGKILLed and
                     restarted still reads (docs/mls.md). Default 5 posts.
  --keep             keep the run directory (node data, configs, logs) and print where it is`;

function intOpt(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer`);
  return n;
}

export async function harnessCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  try {
    if (sub === 'list') {
      for (const [name, what] of Object.entries(SCENARIOS)) console.log(`${name.padEnd(20)} ${what}`);
      return 0;
    }
    if (sub !== 'run') {
      process.stderr.write(HARNESS_USAGE + '\n');
      return sub === '--help' || sub === '-h' ? 0 : 2;
    }
    const { values, positionals } = parse(rest, {
      nodes: { type: 'string' }, dms: { type: 'string' }, class: { type: 'string' }, transport: { type: 'string' },
      'run-dir': { type: 'string' }, keep: { type: 'boolean' }, 'step-timeout-ms': { type: 'string' }, events: { type: 'string' },
      posts: { type: 'string' }, 'partition-s': { type: 'string' }, 'sync-interval-s': { type: 'string' }, 'rns-connect': { type: 'string' },
    });
    const scenario = positionals[0];
    if (!scenario) throw new UsageError(`missing scenario name\n${HARNESS_USAGE}`);
    if (!SCENARIOS[scenario]) throw new UsageError(`unknown scenario ${scenario} (known: ${Object.keys(SCENARIOS).join(', ')})`);
    if (positionals.length > 1) throw new UsageError(`unexpected argument ${positionals[1]}`);
    const cls = values.class;
    if (cls !== undefined && cls !== 'request' && cls !== 'shared') throw new UsageError('--class must be request or shared');
    // --rns-connect tcp://HOST:PORT[,…] (docs/rns.md): RNS via external Reticulum transport nodes; implies --transport rns.
    const rnsConnect = values['rns-connect']?.split(',').map((s) => s.trim().replace(/^tcp:\/\//, '')).filter(Boolean);
    const transport = values.transport ?? (rnsConnect?.length ? 'rns' : undefined);
    if (rnsConnect?.length && transport !== 'rns') throw new UsageError('--rns-connect needs --transport rns');
    if (transport !== undefined && transport !== 'http' && transport !== 'bus' && transport !== 'onion' && transport !== 'rns') throw new UsageError('--transport must be http, bus, onion or rns');
    const nodes = intOpt(values.nodes, '--nodes');
    if (nodes !== undefined && nodes < 3) throw new UsageError('--nodes must be at least 3');
    if (scenario === 'gate-invite') {
      return await runGateInviteCli({
        posts: intOpt(values.posts, '--posts'), transport, runDir: values['run-dir'], keep: values.keep || values['run-dir'] !== undefined,
        stepTimeoutMs: intOpt(values['step-timeout-ms'], '--step-timeout-ms'),
      });
    }
    if (scenario === 'partition') {
      return await runPartitionCli({
        nodes, events: intOpt(values.events, '--events'), dms: intOpt(values.dms, '--dms'), transport, runDir: values['run-dir'],
        keep: values.keep || values['run-dir'] !== undefined, stepTimeoutMs: intOpt(values['step-timeout-ms'], '--step-timeout-ms'),
        partitionS: intOpt(values['partition-s'], '--partition-s'), syncIntervalS: intOpt(values['sync-interval-s'], '--sync-interval-s'),
      });
    }
    return await runOfflineRecipientCli({
      nodes, dms: intOpt(values.dms, '--dms'), deliveryClass: cls, transport, ...(rnsConnect?.length ? { rnsConnect } : {}), runDir: values['run-dir'],
      keep: values.keep || values['run-dir'] !== undefined, stepTimeoutMs: intOpt(values['step-timeout-ms'], '--step-timeout-ms'),
    });
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`error: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
