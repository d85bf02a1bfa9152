// Which `infonet` invocations run with glibc's malloc limited to two arenas (see bin/infonet.js): the streaming chain
// commands (`chain export|validate|ingest` of a big file), unless the caller set MALLOC_ARENA_MAX already.

/** The environment to re-run `args` (the CLI's arguments) with, or null when it runs as it is. */
export function mallocArenaEnv(args, env) {
  const [cmd, sub] = args;
  const streaming = cmd === 'chain' && (sub === 'export' || sub === 'validate' || sub === 'ingest');
  return streaming && env.MALLOC_ARENA_MAX === undefined ? { ...env, MALLOC_ARENA_MAX: '2' } : null;
}
