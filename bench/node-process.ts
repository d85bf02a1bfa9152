// One bench node in a process of its own (nodes ARE separate processes in production, and one JS main thread for
// several nodes caps a bench at that thread's ceiling). Started by bench/child-node.ts (bench:replication, bench:sync)
// with an IPC channel; the node is started by startSpecNode() (bench/child-node.ts), as an in-process bench node is,
// with the same inbound rate-limit overrides. The parent asks over IPC for what it cannot read from /proc:
//   {op:'commits'}          → fsync'd group commits so far
//   {op:'status'}           → node.status()
//   {op:'profile', file}    → starts (file undefined) or stops and writes a V8 CPU profile of this process
//   {op:'heap-profile', file} → the same for V8's sampling heap profiler (allocations, collected ones included)
//   {op:'stop'}             → stops the node and exits
import { startSpecNode, type ChildNodeSpec } from './child-node.js';
import { startCpuProfile, startHeapProfile } from './machine.js';

export interface ChildReady {
  op: 'ready';
  nodeId: string;
  natsUrl: string;
  dataDir: string;
  natsPid: number;
}

export type ChildAsk = { op: 'commits' | 'status' | 'stop' } | { op: 'profile' | 'heap-profile'; file?: string };
export type ChildRequest = ChildAsk & { id: number };

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]) as ChildNodeSpec;
  const node = await startSpecNode(spec);
  const profiles: Record<'profile' | 'heap-profile', ((file: string) => Promise<void>) | undefined> = { profile: undefined, 'heap-profile': undefined };
  const reply = (id: number, value: unknown): void => {
    process.send!({ id, value });
  };
  process.on('message', (m: ChildRequest) => {
    void (async () => {
      switch (m.op) {
        case 'commits':
          return reply(m.id, node.mailboxes.store.committer.commits);
        case 'status':
          return reply(m.id, await node.status());
        case 'profile':
        case 'heap-profile': {
          const running = profiles[m.op];
          if (m.file === undefined) profiles[m.op] = await (m.op === 'profile' ? startCpuProfile : startHeapProfile)();
          else if (running) {
            await running(m.file);
            profiles[m.op] = undefined;
          }
          return reply(m.id, null);
        }
        case 'stop':
          await node.stop();
          reply(m.id, null);
          process.disconnect();
          return;
      }
    })().catch((e: unknown) => reply(m.id, { error: String(e) }));
  });
  // The parent going away (crash, ^C) takes this node down with it.
  process.on('disconnect', () => void node.stop().finally(() => process.exit(0)));
  const ready: ChildReady = { op: 'ready', nodeId: node.nodeId, natsUrl: node.natsUrl, dataDir: node.dataDir, natsPid: node.natsServer?.pid ?? 0 };
  process.send!(ready);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
