// `npm start`: the multi-node demo (issue 5). Three nodes federated over NATS leaf connections on this machine, in a
// temporary run directory: Alice sends sealed DMs to offline Bob through node A, A replicates and is killed with
// SIGKILL, Bob comes online at node C, polls and decrypts, acks prune the copies on B and Alice's quota is free again
// everywhere. Progress while it runs, a summary at the end; exit 0 iff every check holds. No configuration needed
// (only nats-server on PATH; `npm start` installs it on Debian when run as root).
import { findNatsServer } from '../bus/nats-server.js';
import { isInfonetError } from '../protocol/errors.js';
import { runOfflineRecipientCli } from '../harness/run.js';
import { parse, reportError } from './args.js';

export async function demoCommand(args: string[]): Promise<number> {
  try {
    const { values } = parse(args, { keep: { type: 'boolean' }, dms: { type: 'string' } }, false);
    try {
      findNatsServer();
    } catch (e) {
      process.stderr.write(`demo: ${isInfonetError(e) ? e.reason : String(e)}\n`);
      return 1;
    }
    const dms = values.dms === undefined ? undefined : Number(values.dms);
    console.log('infonet demo — offline recipient across a 3-node federation (see harness/scenarios/offline-recipient.ts)');
    return await runOfflineRecipientCli({ nodes: 3, dms, keep: values.keep });
  } catch (e) {
    return reportError(e);
  }
}
