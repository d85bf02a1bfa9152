// Stops this run's private Tor network, if an onion test started one. Self-contained on purpose: jest loads the
// global teardown outside its module mapper, so it cannot import our `.js`-suffixed TypeScript modules.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const runsTor = (pid: number): boolean => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('tor') && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
};

export default async function globalTeardown(): Promise<void> {
  const dir = process.env.INFONET_TOR_NET_DIR;
  if (!dir) return;
  const file = join(dir, 'network.json');
  if (existsSync(file)) {
    const pids = ((JSON.parse(readFileSync(file, 'utf8')) as { pids?: number[] }).pids ?? []).filter((p) => p > 1 && runsTor(p));
    for (const p of pids) process.kill(p, 'SIGTERM');
    for (let i = 0; i < 200 && pids.some(runsTor); i++) await new Promise((r) => setTimeout(r, 50));
    for (const p of pids.filter(runsTor)) process.kill(p, 'SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
  rmSync(`${dir}.lock`, { recursive: true, force: true });
}
