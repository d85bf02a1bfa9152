// An XState clock whose timers never keep the process alive. Shared by actors/ (deadlines are persisted and re-armed
// on restore) and transports/rns/ (reconnect and path-request delays are re-created on start): an idle timer must
// not stop the process from exiting. Timers are not I/O, so this may live in protocol/ (issue 9: was written twice).
export const unrefClock = {
  setTimeout: (fn: (...args: unknown[]) => void, ms: number) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (id: unknown) => clearTimeout(id as NodeJS.Timeout),
};
