/** The environment to re-run `args` (the CLI's arguments) with, or null when it runs as it is. */
export function mallocArenaEnv(args: readonly string[], env: NodeJS.ProcessEnv): NodeJS.ProcessEnv | null;
