// The issue-5 scenario end to end, on real node processes: the demo (`npm start`) runs the same function.
import { formatReport } from '../../harness/report.js';
import { runOfflineRecipient } from '../../harness/scenarios/offline-recipient.js';

test('offline recipient: replicate, SIGKILL the sender node, poll elsewhere, decrypt, acks prune, quota free', async () => {
  const lines: string[] = [];
  const { ok, report } = await runOfflineRecipient({ nodes: 3, dms: 10, log: (l) => lines.push(l), stepTimeoutMs: 15_000, restartKilled: false });
  const text = `${lines.join('\n')}\n${formatReport(report)}`;
  if (!ok) console.log(text);
  expect(report.checks.filter((c) => !c.ok)).toEqual([]);
  expect(report.counts).toEqual({ sent: 10, delivered: 10, duplicates: 0, lost: 0 });
  expect(report.latenciesMs).toHaveLength(10);
  expect(ok).toBe(true);
  expect(report.totalMs).toBeLessThan(60_000);
}, 90_000);
