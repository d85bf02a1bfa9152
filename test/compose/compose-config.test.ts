// The compose deployment files validate offline with `docker-compose -f … config -q` (v1.29, `apt-get install
// docker-compose`); no docker engine is needed. When the binary is missing and we are root it is installed here (as
// scripts/ensure-deps.mjs does for `npm test`), so the check always runs on a fresh machine; otherwise it is skipped
// with a message.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const file = (name: string): string => join(ROOT, 'compose', name);
const composeVersion = () => spawnSync('docker-compose', ['version', '--short'], { encoding: 'utf8' }).status === 0;
let hasCompose = composeVersion();
if (!hasCompose && process.getuid?.() === 0) {
  spawnSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose'], { stdio: 'ignore', timeout: 300_000 });
  hasCompose = composeVersion();
}
if (!hasCompose) {
  // eslint-disable-next-line no-console
  console.warn('test/compose: docker-compose is not installed (apt-get install -y docker-compose): config validation skipped');
}
const withCompose = hasCompose ? test : test.skip;

function compose(files: string[], args: string[], env: Record<string, string> = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('INFONET_')));
  return spawnSync('docker-compose', [...files.flatMap((f) => ['-f', file(f)]), ...args], {
    cwd: ROOT, encoding: 'utf8', env: { ...clean, ...env },
  });
}

const SECRET = { INFONET_PEER_SECRET: 'test-secret-not-used-anywhere' };

describe.each([
  ['relay', ['docker-compose.relay.yml'], SECRET],
  ['relay + participant', ['docker-compose.relay.yml', 'docker-compose.participant.yml'], { ...SECRET, INFONET_RELAY_PEERS: 'http://relayexampleonionaddressxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.onion' }],
  ['relay + e2e', ['docker-compose.relay.yml', 'docker-compose.e2e.yml'], SECRET],
] as Array<[string, string[], Record<string, string>]>)('%s', (_label, files, env) => {
  withCompose('validates (docker-compose config -q)', () => {
    const r = compose(files, ['config', '-q'], env);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

withCompose('no built-in secret: the relay refuses to start without INFONET_PEER_SECRET', () => {
  const r = compose(['docker-compose.relay.yml'], ['config', '-q']);
  expect(r.status).not.toBe(0);
  expect(r.stderr).toMatch(/INFONET_PEER_SECRET/);
});

withCompose('the participant overlay requires relay peers', () => {
  const r = compose(['docker-compose.relay.yml', 'docker-compose.participant.yml'], ['config', '-q'], SECRET);
  expect(r.status).not.toBe(0);
  expect(r.stderr).toMatch(/INFONET_RELAY_PEERS/);
});

withCompose('relay: HTTP on 127.0.0.1:8000 only, no published port, tor in the relay network namespace', () => {
  const r = compose(['docker-compose.relay.yml'], ['config'], SECRET);
  expect(r.status).toBe(0);
  expect(r.stdout).not.toMatch(/^\s+ports:/m);
  expect(r.stdout).toMatch(/- --http-host\n\s+- 127\.0\.0\.1\n\s+- --http-port\n\s+- '8000'/);
  expect(r.stdout).toMatch(/network_mode: service:relay/);
});

withCompose('relay: the node publishes its onion through the tor control port onto a dedicated 127.0.0.1 listener', () => {
  const r = compose(['docker-compose.relay.yml'], ['config'], SECRET);
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/- --tor-control\n\s+- 127\.0\.0\.1:9051\n\s+- --tor-cookie\n\s+- \/var\/lib\/tor\/control_auth_cookie\n\s+- --onion-port\n\s+- '8100'/);
  expect(r.stdout).toMatch(/- tor-data:\/var\/lib\/tor:ro/);
  expect(r.stdout).toMatch(/MESH_INFONET_ALLOW_CLEARNET_SYNC: "false"/);
});

withCompose('participant: reaches its relays over onion, reads the cookie of its own tor volume', () => {
  const r = compose(['docker-compose.relay.yml', 'docker-compose.participant.yml'], ['config'],
    { ...SECRET, INFONET_RELAY_PEERS: 'http://relayexampleonionaddressxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.onion' });
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/MESH_RELAY_PEERS: http:\/\/relayexample\S*\.onion/);
  expect(r.stdout).toMatch(/MESH_RELAY_PUSH_TIMEOUT_S: '180'/);
  expect(r.stdout).toMatch(/- participant-tor:\/var\/lib\/tor:ro/);
  expect(r.stdout).not.toMatch(/- tor-data:/);
});

test('torrc: SOCKS and a cookie control port on loopback only; no static hidden service (the node adds its own)', () => {
  const torrc = readFileSync(file('tor/torrc'), 'utf8');
  expect(torrc).toMatch(/^SocksPort 127\.0\.0\.1:9050$/m);
  expect(torrc).toMatch(/^ControlPort 127\.0\.0\.1:9051$/m);
  expect(torrc).toMatch(/^CookieAuthentication 1$/m);
  expect(torrc).not.toMatch(/^HiddenService/m);
});
