// kill -9 of the sending node mid-replication loses nothing acknowledged: a child node deposits in a loop while
// its outbox pushes to a live receiver; it is SIGKILLed at a random point; after an in-process restart on the same
// data directory every acknowledged DM reaches the receiver (the outbox entry was durable before the ack).
// The child runs in its own process group and the whole group is SIGKILLed (like a container/cgroup kill): killing
// only the node would orphan its embedded nats-server (it cannot be told to stop), leaking it past the test run.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { identityToKeyFile } from '../../protocol/identity.js';
import { waitFor } from '../helpers/nats.js';
import { removeTempDirs } from './outbound-helpers.js';
import { Mesh } from './outbound-mesh.js';
import { seededRandom } from '../helpers/seeded-random.js';

const ROOT = join(__dirname, '..', '..');

afterAll(() => removeTempDirs());

function runAndKill(dataDir: string, env: Record<string, string>, killAfterAcks: number, extraMs: number): Promise<Map<string, string>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/replication/fixtures/outbound-sender.ts'), dataDir, JSON.stringify(env)], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    });
    const killGroup = (): void => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* group already gone */
      }
    };
    const acked = new Map<string, string>();
    let stderr = '';
    let armed = false;
    child.stderr.on('data', (d) => { stderr += String(d); });
    createInterface({ input: child.stdout }).on('line', (line) => {
      const [kind, token, msgId] = line.split(' ');
      if (kind === 'acked') acked.set(token, msgId);
      if (!armed && acked.size >= killAfterAcks) {
        armed = true;
        setTimeout(killGroup, extraMs);
      }
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(acked);
      else {
        killGroup();
        reject(new Error(`child exited ${code}/${signal}: ${stderr}`));
      }
    });
  });
}

test('SIGKILL of the sending node mid-replication loses no acknowledged DM', async () => {

  const rnd = seededRandom('outbound crash test');
  const mesh = await Mesh.create(['a', 'b']);
  try {
    const a = mesh.nodes.get('a')!;
    writeFileSync(join(a.dataDir, 'node.key.json'), JSON.stringify(identityToKeyFile(a.identity)), { mode: 0o600 });
    const b = await mesh.start('b');
    const acked = await runAndKill(a.dataDir, a.env, 40 + Math.floor(rnd() * 40), Math.floor(rnd() * 30));
    expect(acked.size).toBeGreaterThanOrEqual(40);

    const restarted = await mesh.start('a');
    const backlog = restarted.replication!.status().peers[0].queued;
    const missing = async () => {
      const out: string[] = [];
      for (const [token, msgId] of acked) {
        const ids = await b.mailboxes.pendingIds('bob', [{ type: 'shared', token }]);
        if (!ids.includes(msgId)) out.push(msgId);
      }
      return out;
    };
    await waitFor(async () => (await missing()).length === 0, 15_000, { what: 'every acknowledged DM on the receiver' });
    expect(await missing()).toEqual([]);
    // Log how much was still queued at the kill, so a run that never exercised the outbox is visible.
    process.stdout.write(`crash test: ${acked.size} acked, ${backlog} still queued at restart\n`);
  } finally {
    await mesh.stopAll();
  }
});
