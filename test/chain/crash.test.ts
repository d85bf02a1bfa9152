// SIGKILL a process that is appending; every event it acknowledged must be on disk after reopening,
// and the reopened chain must validate (T73, issue 2 crash test).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { openChainAt } from '../../actors/open-chain.js';
import { validateChain } from '../../protocol/chain-validator.js';
import { defaultSettings } from '../../protocol/settings.js';
import { seededRandom } from '../helpers/seeded-random.js';

const worker = join(__dirname, '..', 'helpers', 'chain-append-worker.ts');

/** Start the worker, SIGKILL it once it has acknowledged `killAfter` appends; resolve with the acked ids. */
function appendUntilKilled(dataDir: string, killAfter: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', worker, dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acked: string[] = [];
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line === 'ready') return;
      acked.push(line);
      if (acked.length === killAfter) child.kill('SIGKILL');
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(acked);
      else reject(new Error(`worker exited early (code ${code}): ${stderr}`));
    });
  });
}

describe('crash safety', () => {
  const dir = mkdtempSync(join(tmpdir(), 'infonet-crash-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('T73 every acknowledged append survives SIGKILL (4 rounds at random points)', async () => {

    const rnd = seededRandom('chain crash test');
    const settings = defaultSettings().chain;
    const allAcked: string[] = [];
    for (let round = 0; round < 4; round++) {
      const killAfter = 5 + Math.floor(rnd() * 300);
      const acked = await appendUntilKilled(dir, killAfter);
      expect(acked.length).toBeGreaterThanOrEqual(killAfter);
      allAcked.push(...acked);
      const { chain, close } = await openChainAt(dir, { settings });
      try {
        const events = await chain.readRange(0, chain.length);
        const ids = new Set(events.map((e) => e.event_id));
        const missing = allAcked.filter((id) => !ids.has(id));
        expect(missing).toEqual([]);
        const verdict = validateChain(events, { settings, clock: () => Date.now() / 1000, maxAgeS: 0 });
        expect(verdict.valid).toBe(true);
        expect(chain.previousRun?.cleanStop).toBe(false);
      } finally {
        await close();
      }
    }
  }, 180_000); // four child processes under tsx: slow when the 2 shared cores are busy
});
