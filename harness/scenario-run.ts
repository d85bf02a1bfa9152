// What every harness scenario does around its own steps: the timestamped progress log with named checks, and the
// CLI wrapper that prints the report, writes report.json/report.html and maps the outcome to an exit code.
import { isInfonetError } from '../protocol/errors.js';
import { writeReportFiles } from './report-files.js';
import { formatReport, type Check, type ScenarioReport } from './report.js';

export const errText = (e: unknown): string => (isInfonetError(e) ? `${e.code}: ${e.reason}` : e instanceof Error ? e.message : String(e));

export interface ScenarioLog {
  step: (name: string, text: string) => void;
  /** Records the check and logs its verdict; returns `ok`. */
  check: (name: string, ok: boolean, detail: string) => boolean;
  checks: Check[];
}

export function scenarioLog(t0: number, out: (l: string) => void): ScenarioLog {
  const at = (): string => `${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s`;
  const step = (name: string, text: string): void => out(`[${at()}] ${name.padEnd(10)} ${text}`);
  const checks: Check[] = [];
  const check = (name: string, ok: boolean, detail: string): boolean => {
    checks.push({ name, ok, detail });
    step(ok ? 'check ok' : 'CHECK FAIL', `${name} — ${detail}`);
    return ok;
  };
  return { step, check, checks };
}

/** Runs a scenario and prints its report; the exit code: 0 iff every check holds, 1 when one fails, 2 on a harness error. */
export async function runScenarioCli(
  run: (log: (l: string) => void) => Promise<{ ok: boolean; report: ScenarioReport }>,
  out: (l: string) => void,
  describe: (e: unknown) => string = errText,
): Promise<number> {
  try {
    const { ok, report } = await run(out);
    out(formatReport(report));
    // Last line: the report's path (report.html beside report.json; harness/report-files.ts).
    out(writeReportFiles(report));
    return ok ? 0 : 1;
  } catch (e) {
    process.stderr.write(`harness: ${describe(e)}\n`);
    return 2;
  }
}
