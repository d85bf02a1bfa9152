// A nats-server left behind by an owner killed with SIGKILL is found through the pid file and killed
// before a new server starts on the same store.
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNatsServer } from '../../bus/nats-server.js';

test('a stale embedded nats-server is reaped at the next start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stale-nats-'));
  const pidFile = join(dir, 'nats-server.pid');
  const opts = { serverName: 'stale_test', jetstream: { storeDir: join(dir, 'js') }, configDir: dir, pidFile, monitor: false as const };
  const first = await startNatsServer(opts);
  expect(Number(readFileSync(pidFile, 'utf8'))).toBe(first.pid);
  // Simulate the owner dying without stopping it: the server keeps running; a new start must reap it.
  const second = await startNatsServer(opts);
  try {
    const firstExit = await first.exited;
    expect(firstExit.signal).toBe('SIGKILL');
    expect(Number(readFileSync(pidFile, 'utf8'))).toBe(second.pid);
  } finally {
    await second.stop();
    expect(existsSync(pidFile)).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  }
});
