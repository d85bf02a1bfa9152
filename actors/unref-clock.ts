// An XState clock whose timers never keep the process alive: actors that own deadlines also persist them
// and re-arm them on restore, so an idle timer must not stop the process from exiting.
export const unrefClock = {
  setTimeout: (fn: (...args: unknown[]) => void, ms: number) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (id: unknown) => clearTimeout(id as NodeJS.Timeout),
};
