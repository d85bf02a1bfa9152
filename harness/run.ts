// Multi-node scenarios on this machine, as functions (the `infonet harness` command is cli/harness.ts): each runs,
// prints progress and its summary, and returns the exit code — 0 iff every check of the scenario holds (1 when a
// check fails, 2 on a harness error).
import { isInfonetError } from '../protocol/errors.js';
import { runScenarioCli } from './scenario-run.js';
import { runOfflineRecipient, type OfflineRecipientOptions } from './scenarios/offline-recipient.js';
export { runPartitionCli } from './scenarios/partition.js';
export { runGateInviteCli } from './scenarios/gate-invite.js';

export const SCENARIOS: Record<string, string> = {
  'offline-recipient': 'offline recipient polls another node after the sender node died (issue 5)',
  partition: 'a node cut off while others append and deposit heals: nothing acknowledged is lost (issue 8)',
  'gate-invite': 'MLS gate: invite an offline member, accept, post, remove, restart (issue 12)',
};

/** Runs the offline-recipient scenario and prints its report; the exit code. Shared by `harness run` and the demo. */
export async function runOfflineRecipientCli(opts: OfflineRecipientOptions, out: (l: string) => void = (l) => console.log(l)): Promise<number> {
  // This entry point has always named a rejected run by its reason alone (no code prefix).
  return runScenarioCli((log) => runOfflineRecipient({ ...opts, log }), out, (e) => (isInfonetError(e) ? e.reason : e instanceof Error ? e.message : String(e)));
}
