// `npm start`: a short, self-checking tour of the node on a local data directory.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openChainAt } from '../actors/open-chain.js';
import { validateChain } from '../protocol/chain-validator.js';
import { generateIdentity } from '../protocol/identity.js';
import { loadSettings } from '../protocol/settings.js';
import { parse, reportError } from './args.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

export async function demoCommand(args: string[]): Promise<number> {
  try {
    const { values } = parse(args, { data: { type: 'string' } }, false);
    const dataDir = values.data ?? join(process.cwd(), 'data', 'demo-node');
    mkdirSync(dataDir, { recursive: true });
    const settings = loadSettings();
    const { chain, close } = await openChainAt(dataDir, { settings: settings.chain });
    try {
      const alice = generateIdentity();
      const bob = generateIdentity();
      console.log(`data directory: ${dataDir} (chain height ${chain.length} at start)`);
      const now = Math.floor(Date.now() / 1000);
      const steps: Array<[string, () => Promise<unknown>]> = [
        ['alice broadcasts a public message', () => chain.appendLocal(alice, 'message', { message: 'hello mesh', destination: 'broadcast', channel: 'LongFast', priority: 'normal', ephemeral: false })],
        ['alice posts a sealed gate message', () => chain.appendLocal(alice, 'gate_message', { gate: 'ops-gate', ciphertext: 'mls1:' + b64('0123456789abcdef-demo-ciphertext'), nonce: b64('nonce-value-1234'), sender_ref: 'demo-ref', transport_lock: 'private_strong' })],
        ['bob spools an offline DM for alice', () => chain.appendLocal(bob, 'dm_message', { recipient_id: alice.nodeId, delivery_class: 'request', recipient_token: '', ciphertext: 'x3dh1:' + b64('sealed-demo-dm-bytes'), msg_id: `dm-demo-${now}`, timestamp: now, format: 'dm1', transport_lock: 'private_strong' })],
      ];
      for (const [label, step] of steps) {
        await step();
        console.log(`  ok  ${label}`);
      }
      try {
        await chain.appendLocal(alice, 'gate_message', { gate: 'ops-gate', ciphertext: b64('x'.repeat(40)), nonce: b64('nonce-value-1234'), sender_ref: 'r', transport_lock: 'private_strong', message: 'leaked plaintext' });
        console.log('  FAIL a plaintext gate post was accepted');
        return 1;
      } catch (e) {
        console.log(`  ok  a leaky gate post is refused: ${(e as Error).message}`);
      }
      const events = await chain.readRange(0, chain.length);
      const verdict = validateChain(events, { settings: settings.chain, clock: () => Date.now() / 1000, maxAgeS: 0 });
      console.log(`chain: ${chain.length} events, head ${chain.head}`);
      console.log(`full validation: ${verdict.valid ? 'valid' : `invalid at ${verdict.index}: ${verdict.rejection.reason}`}`);
      return verdict.valid ? 0 : 1;
    } finally {
      await close();
    }
  } catch (e) {
    return reportError(e);
  }
}
