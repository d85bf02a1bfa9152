// How the long-running commands (hub run, node run, record) wait to be stopped: SIGINT, SIGTERM, or the
// first of some other events (the server died, a duration elapsed, a test's stop signal).

/** Resolves with 'SIGINT', 'SIGTERM' or the label of the first of `others` to resolve; removes its signal listeners. */
export function untilStopped(others: Record<string, Promise<unknown> | undefined> = {}): Promise<string> {
  return new Promise((resolve) => {
    const done = (why: string): void => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(why);
    };
    const onInt = (): void => done('SIGINT');
    const onTerm = (): void => done('SIGTERM');
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
    for (const [why, p] of Object.entries(others)) void p?.then(() => done(why));
  });
}

/** A promise that resolves after `seconds` without keeping the process alive. */
export function elapsed(seconds: number): Promise<void> {
  return new Promise((r) => setTimeout(r, seconds * 1000).unref());
}
