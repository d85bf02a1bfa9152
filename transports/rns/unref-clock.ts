// XState clock whose timers never keep the process alive (the RNS actors' reconnect and path-request delays are
// re-created on start; an idle node must still be able to exit).
export const unrefClock = {
  setTimeout: (fn: (...args: unknown[]) => void, ms: number) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (id: unknown) => clearTimeout(id as NodeJS.Timeout),
};
