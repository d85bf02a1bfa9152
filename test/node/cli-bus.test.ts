// The CLI's --nats URL --creds FILE --node ID forms act on a running node (same output as the --data forms). The
// node's bus is authenticated (docs/bus-auth.md): without --creds a command is refused.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { generateIdentity, identityToKeyFile } from '../../protocol/identity.js';
import type { InfonetNode } from '../../node/infonet-node.js';
import { removeTempDirs, startNode, tempDataDir } from './helpers.js';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
const cli = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { cwd: ROOT });
let node: InfonetNode;

beforeAll(async () => { node = await startNode(); });
afterAll(async () => { await node?.stop(); removeTempDirs(); });

test('chain append / export, status and dm count through --nats --node', async () => {
  const keyFile = join(tempDataDir(), 'k.json');
  writeFileSync(keyFile, JSON.stringify(identityToKeyFile(generateIdentity())));
  const creds = join(node.dataDir, 'nats', 'auth', 'operator.nk');
  const at = ['--nats', node.natsUrl, '--creds', creds, '--node', node.nodeId];
  const payload = JSON.stringify({ message: 'via bus', destination: 'broadcast', channel: 'LongFast', priority: 'normal' });
  const appended = JSON.parse((await cli('chain', 'append', ...at, '--key', keyFile, '--type', 'message', '--payload', payload)).stdout);
  expect(appended.event_id).toBe(node.chain.head);
  const exported = JSON.parse((await cli('chain', 'export', ...at)).stdout);
  expect(exported.map((e: { event_id: string }) => e.event_id)).toEqual([appended.event_id]);
  const status = JSON.parse((await cli('status', ...at)).stdout);
  expect(status).toMatchObject({ node_id: node.nodeId, height: 1 });
  const count = JSON.parse((await cli('dm', 'count', ...at, '--key', keyFile, '--shared-token', 'nobody')).stdout);
  expect(count).toEqual({ ok: true, count: 0 });
  await expect(cli('chain', 'export', '--nats', node.natsUrl)).rejects.toMatchObject({ code: 2 });
  // the environment variable serves as --creds too
  const viaEnv = await run(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'status', '--nats', node.natsUrl, '--node', node.nodeId], {
    cwd: ROOT, env: { ...process.env, INFONET_NATS_CREDS: creds },
  });
  expect(JSON.parse(viaEnv.stdout)).toMatchObject({ node_id: node.nodeId });
}, 120_000);

test('without credentials (or with a wrong one) the CLI is refused with one line, exit 2; the bus stays closed', async () => {
  const noCreds = cli('status', '--nats', node.natsUrl, '--node', node.nodeId);
  await expect(noCreds).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/refused the connection: credentials required \(--creds FILE\)/) });
  const peerCreds = join(node.dataDir, 'nats', 'auth', 'peer.nk'); // may only call peer routes
  await expect(cli('status', '--nats', node.natsUrl, '--creds', peerCreds, '--node', node.nodeId))
    .rejects.toMatchObject({ stderr: expect.stringMatching(/permission denied/) });
}, 120_000);
