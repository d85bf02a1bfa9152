#!/usr/bin/env node
// `npx infonet …` entry: load the TypeScript CLI through tsx's ESM loader.
//
// The streaming chain commands (`chain export|validate|ingest` of a big file) run with glibc's malloc limited to
// two arenas. glibc otherwise gives threads that allocate (libuv's pool with LevelDB's reads and writes, the
// crypto workers, V8's helpers) arenas of their own, up to 8 per core, and keeps their freed memory: a 1M-event
// ingest held ~110 MiB there (docs/performance.md, "Streaming chain files"). glibc reads MALLOC_ARENA_MAX only
// when a process starts, so the command runs in a child process that has it; signals are passed on.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { mallocArenaEnv } from './malloc-arena.js';

const childEnv = mallocArenaEnv(process.argv.slice(2), process.env);
if (childEnv) {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: childEnv });
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => child.kill(s));
  child.on('exit', (code, signal) => process.exit(code ?? 128 + (signal ? constants.signals[signal] : 1)));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../cli/main.ts');
}
