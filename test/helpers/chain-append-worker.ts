// Child process for the crash test: appends events as fast as it can (several in flight at once, so
// group commit batches them) and prints each event id once its append is acknowledged (durable).
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openChainAt } from '../../actors/open-chain.js';
import { generateIdentity, identityFromKeyFile, identityToKeyFile } from '../../protocol/identity.js';
import { defaultSettings } from '../../protocol/settings.js';

async function run(dataDir: string): Promise<void> {
  const keyPath = join(dataDir, 'author.key.json');
  const id = existsSync(keyPath) ? identityFromKeyFile(JSON.parse(readFileSync(keyPath, 'utf8'))) : generateIdentity();
  if (!existsSync(keyPath)) writeFileSync(keyPath, JSON.stringify(identityToKeyFile(id)));
  const { chain } = await openChainAt(dataDir, { settings: defaultSettings().chain });
  process.stdout.write('ready\n');
  const gate = { gate: 'crash-gate', ciphertext: randomBytes(48).toString('base64'), nonce: Buffer.from('nonce-value-1234').toString('base64'), sender_ref: 'r', transport_lock: 'private_strong' };
  let n = 0;
  const one = async (): Promise<void> => {
    for (;;) {
      const i = n++;
      const ev = i % 2 === 0
        ? await chain.appendLocal(id, 'message', { message: `m${i}`, destination: 'broadcast', channel: 'c', priority: 'normal', ephemeral: false })
        : await chain.appendLocal(id, 'gate_message', { ...gate, sender_ref: `r${i}` });
      process.stdout.write(ev.event_id + '\n');
    }
  };
  await Promise.all([one(), one(), one(), one()]);
}

run(process.argv[2]).catch((e) => {
  process.stderr.write(String(e?.stack ?? e) + '\n');
  process.exit(3);
});
