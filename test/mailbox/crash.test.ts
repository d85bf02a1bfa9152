// Durability: a deposit is acknowledged only after it is fsync'd. A child process deposits (and
// sometimes polls) in a loop and is SIGKILLed at random points over several rounds; after reopening
// the store every acknowledged message is still pending or was claimed, and nothing claimed reappears.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { openRelay, removeDir, shared, tempDir } from './helpers.js';
import { seededRandom } from '../helpers/seeded-random.js';

const ROOT = join(__dirname, '..', '..');

interface Round { acked: Map<string, string>; claimed: Set<string>; inFlightClaims: Set<string> }

function runAndKill(dir: string, round: number, killAfterAcks: number, extraMs: number): Promise<Round> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/mailbox/fixtures/deposit-loop.ts'), dir, String(round)], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const res: Round = { acked: new Map(), claimed: new Set(), inFlightClaims: new Set() };
    let stderr = '';
    let armed = false;
    child.stderr.on('data', (d) => { stderr += String(d); });
    createInterface({ input: child.stdout }).on('line', (line) => {
      const [kind, token, msgId] = line.split(' ');
      if (kind === 'acked') res.acked.set(msgId, token);
      else if (kind === 'claimed') res.claimed.add(msgId);
      else if (kind === 'claiming') res.inFlightClaims.add(token);
      else if (kind === 'claim-done') res.inFlightClaims.delete(token);
      if (!armed && res.acked.size >= killAfterAcks) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), extraMs);
      }
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(res);
      else reject(new Error(`child exited ${code}/${signal}: ${stderr}`));
    });
  });
}

test('acknowledged deposits survive SIGKILL at random points; claimed messages never reappear', async () => {

  const rnd = seededRandom('mailbox crash test');
  const dir = tempDir('mbx-crash-');
  const acked = new Map<string, string>();
  const claimed = new Set<string>();
  const uncertainTokens = new Set<string>();
  try {
    for (let round = 0; round < 4; round++) {
      const res = await runAndKill(dir, round, 20 + Math.floor(rnd() * 200), Math.floor(rnd() * 15));
      expect(res.acked.size).toBeGreaterThan(0);
      for (const [id, tok] of res.acked) acked.set(id, tok);
      for (const id of res.claimed) claimed.add(id);
      // A poll cut by the kill may have removed messages durably without printing them.
      for (const tok of res.inFlightClaims) uncertainTokens.add(tok);
    }
    const r = await openRelay({ dir, now: Date.now() / 1000 });
    try {
      const pending = new Set<string>();
      for (const tok of new Set(acked.values())) for (const id of await r.registry.pendingIds('x', shared(tok))) pending.add(id);
      for (const id of claimed) expect(pending.has(id)).toBe(false);
      let lost = 0;
      for (const [id, tok] of acked) if (!pending.has(id) && !claimed.has(id) && !uncertainTokens.has(tok)) lost++;
      expect(lost).toBe(0);
      expect(claimed.size).toBeGreaterThan(0);
    } finally {
      await r.close();
    }
  } finally {
    removeDir(dir);
  }
});
