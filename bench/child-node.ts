// A bench node as the benches see it: in a process of its own (bench/node-process.ts: spawn, wait for it to be
// ready, ask it over IPC for what /proc cannot tell — group commits, status, a CPU profile — then stop it), or an
// InfonetNode in the bench's own process (BENCH_LAYOUT=single).
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import type { NodeStatus } from '../bus/commands.js';
import { resolveConfig } from '../node/config.js';
import { InfonetNode } from '../node/infonet-node.js';
import { generateIdentity } from '../protocol/identity.js';
import { NO_RATE_LIMITS } from './machine.js';
import type { ChildAsk, ChildReady } from './node-process.js';

/** Where a bench node's nodes run: each in a process of its own (default, as deployed), or all in the bench's (BENCH_LAYOUT=single). */
export const LAYOUT: 'processes' | 'single' = process.env.BENCH_LAYOUT === 'single' ? 'single' : 'processes';

export interface ChildNodeSpec {
  dataDir: string;
  env: Record<string, string>;
  leafRemote?: string;
  /** The inbound peer rate limits: off (default: the benches measure the pipeline, not the limiter) or the node's defaults. */
  rateLimits?: 'off' | 'default';
}

/** The node a bench runs, in whichever process: silent, configured from `env`, peer rate limits off unless asked. */
export function startSpecNode(spec: ChildNodeSpec): Promise<InfonetNode> {
  return InfonetNode.start({
    dataDir: spec.dataDir, config: resolveConfig({ env: spec.env }), identity: generateIdentity(),
    ...(spec.leafRemote ? { leafRemote: spec.leafRemote } : {}),
    logger: pino({ level: 'silent' }), ...(spec.rateLimits === 'default' ? {} : { inbound: { rateLimits: NO_RATE_LIMITS } }),
  });
}

/** A bench node where LAYOUT says: a child process, or an InfonetNode in this process. */
export async function benchNode(name: string, spec: ChildNodeSpec): Promise<BenchNode> {
  return LAYOUT === 'processes' ? childNode(name, spec) : inProcessNode(await startSpecNode(spec));
}

export interface BenchNode {
  nodeId: string;
  natsUrl: string;
  dataDir: string;
  natsPid: number;
  /** The node's process (this process for an in-process node): its CPU is read from /proc/<pid>. */
  pid: number;
  commits(): Promise<number>;
  status(): Promise<NodeStatus>;
  /** Starts (no file) or stops and writes a V8 CPU profile of the node's process (child processes only). */
  profile(file?: string): Promise<void>;
  /** The same for V8's sampling heap profiler (child processes only). */
  heapProfile(file?: string): Promise<void>;
  stop(): Promise<void>;
}

/** An InfonetNode running in this process, as a BenchNode. */
export function inProcessNode(node: InfonetNode): BenchNode {
  return {
    nodeId: node.nodeId, natsUrl: node.natsUrl, dataDir: node.dataDir, natsPid: node.natsServer?.pid ?? 0, pid: process.pid,
    commits: async () => node.mailboxes.store.committer.commits,
    status: () => node.status(),
    profile: async () => undefined,
    heapProfile: async () => undefined,
    stop: () => node.stop(),
  };
}

const CHILD_FILE = fileURLToPath(new URL('./node-process.ts', import.meta.url));

/** Starts a node in a child process (V8/Node flags from BENCH_NODE_FLAGS) and resolves once it serves. */
export async function childNode(name: string, spec: ChildNodeSpec): Promise<BenchNode> {
  const flags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const child: ChildProcess = spawn(process.execPath, [...flags, '--import', 'tsx', CHILD_FILE, JSON.stringify(spec)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map<number, (v: unknown) => void>();
  let nextId = 0;
  const ready = new Promise<ChildReady>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bench node ${name} exited (${code}) before it was ready`)));
    child.on('message', (m: ChildReady | { id: number; value: unknown }) => {
      if ('op' in m) resolve(m);
      else pending.get(m.id)?.(m.value);
    });
  });
  const ask = <T>(req: ChildAsk): Promise<T> => new Promise<T>((resolve) => {
    const id = nextId++;
    pending.set(id, (v) => { pending.delete(id); resolve(v as T); });
    child.send({ ...req, id });
  });
  const r = await ready;
  return {
    nodeId: r.nodeId, natsUrl: r.natsUrl, dataDir: r.dataDir, natsPid: r.natsPid, pid: child.pid!,
    commits: () => ask<number>({ op: 'commits' }),
    status: () => ask<NodeStatus>({ op: 'status' }),
    profile: async (file) => { await ask({ op: 'profile', file }); },
    heapProfile: async (file) => { await ask({ op: 'heap-profile', file }); },
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((res) => child.once('exit', res));
      await ask({ op: 'stop' });
      await exited;
    },
  };
}
