// Whose tor is it? (issue 10, docs/onion.md "Managed tor lifecycle" and "Modes")
//   - a node SIGKILLed once its managed tor is up leaves no tor behind (TAKEOWNERSHIP: tor exits with the control
//     connection);
//   - a tor that outlives its SIGKILLed node (killed in the start-up window, before it took ownership) is reaped
//     through the pid file when the next node starts on the same data directory, and a fresh tor takes over;
//   - with --tor-control HOST:PORT and a password file the node uses the operator's tor: it publishes its onion
//     through it (reached from another tor of the private network), starts no tor of its own, never logs the
//     password, and leaves that tor running when it stops.
// The node processes of the first two are child processes running the node's onion start-up (prepareOnion). Every
// tor here joins the shared private network (DisableNetwork would also close the SOCKS port a managed tor needs);
// only the --tor-control case waits for a bootstrap.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { joinTorrcLines } from '../../harness/tor-network.js';
import { waitUntil } from '../../harness/wait.js';
import { resolveConfig } from '../../node/config.js';
import { InfonetNode } from '../../node/infonet-node.js';
import { PROTOCOL_VERSION } from '../../protocol/constants.js';
import { prepareOnion, type OnionNode } from '../../transports/onion/onion-node.js';
import { OnionPeerTransport } from '../../transports/onion/onion-transport.js';
import { TorControl } from '../../transports/onion/tor-control.js';
import { findBinary, spawnTor, stopTor, writeTorrc, type TorChild } from '../../transports/onion/tor-process.js';
import { NETWORK_WAIT_MS, releaseTorNetwork, sharedTorNetwork, withTor } from '../helpers/tor.js';

jest.setTimeout(NETWORK_WAIT_MS + 90_000);

const ROOT = join(__dirname, '..', '..');
const CHILD = join(ROOT, 'test/onion/fixtures/managed-tor-child.ts');
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

let scratch: string;
const cleanup: Array<() => Promise<void> | void> = [];
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'tor-ownership-'));
});
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
  await releaseTorNetwork();
  rmSync(scratch, { recursive: true, force: true });
});

/** Running and not a zombie (a killed orphan may linger as one under a PID 1 that does not reap). */
const alive = (pid: number): boolean => {
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
};
const runsTorrc = (pid: number, torrc: string): boolean => {
  try {
    return alive(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(torrc);
  } catch {
    return false;
  }
};
const killIfAlive = (pid: number): void => {
  if (!alive(pid)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
};

/** A "node" in a child process: prepareOnion with its managed tor; resolves once the child prints a line or exits. */
function nodeChild(dataDir: string, extraTorrc: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dataDir, JSON.stringify(extraTorrc)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const ready = new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (l) => {
      const m = /^ready (\d+)$/.exec(l);
      if (m) resolve(Number(m[1]));
    });
    void exited.then(() => reject(new Error(`node child exited before it was ready: ${stderr}`)));
  });
  ready.catch(() => undefined);
  cleanup.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, ready, exited };
}

withTor('a node SIGKILLed after its managed tor is up leaves no tor behind (tor exits with its owning connection)', async () => {
  const dir = join(scratch, 'owned');
  const node = nodeChild(dir, joinTorrcLines(await sharedTorNetwork()));
  const torPid = await node.ready;
  cleanup.push(() => killIfAlive(torPid));
  expect(runsTorrc(torPid, join(dir, 'tor', 'torrc'))).toBe(true);
  node.child.kill('SIGKILL');
  await node.exited;
  await waitUntil(() => !alive(torPid), 30_000, 'the owned tor to exit after its node was SIGKILLed', 50);
});

withTor('a tor left behind by a SIGKILLed node is reaped at the next start on the same data directory; a fresh tor takes over', async () => {
  const dir = join(scratch, 'orphan');
  const torrc = join(dir, 'tor', 'torrc');
  const pidFile = join(dir, 'tor', 'tor.pid');
  // The node is killed in its start-up window: tor runs, but the node never took ownership (here it waits for a
  // control-port file tor writes elsewhere). Tor's own owner-pid watch (polled every 15 s) is pointed at this test
  // process, so it cannot tidy up before the next start does: the orphan stays until someone reaps it.
  const netLines = joinTorrcLines(await sharedTorNetwork());
  const node = nodeChild(dir, [...netLines, `ControlPortWriteToFile ${join(dir, 'tor', 'elsewhere')}`, `__OwningControllerProcess ${process.pid}`]);
  const orphan = await waitUntil(() => {
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0;
    return pid > 1 && runsTorrc(pid, torrc) ? pid : 0;
  }, 30_000, 'the child node\'s tor to write its pid file', 20);
  cleanup.push(() => killIfAlive(orphan));
  node.child.kill('SIGKILL');
  await node.exited;
  expect(alive(orphan)).toBe(true); // left behind

  const warnings: string[] = [];
  const onion: OnionNode = await prepareOnion({
    dataDir: dir, mode: { kind: 'managed', extraTorrc: netLines, bootstrapTimeoutMs: 0 },
    log: { ...silent, warn: (_o, msg) => warnings.push(msg) },
  });
  cleanup.push(() => onion.stop());
  expect(alive(orphan)).toBe(false);
  expect(warnings).toContain('reaped a tor left behind by a previous run');
  const fresh = onion.tor!.status();
  expect(fresh).toMatchObject({ kind: 'managed', state: 'ready' });
  expect(fresh.pid).not.toBe(orphan);
  expect(runsTorrc(fresh.pid!, torrc)).toBe(true);
  await waitUntil(() => existsSync(pidFile) && Number(readFileSync(pidFile, 'utf8').trim()) === fresh.pid, 10_000, 'the fresh tor\'s pid file', 20);
  await onion.stop();
  expect(alive(fresh.pid!)).toBe(false);
});

withTor('--tor-control HOST:PORT with a password: the node publishes its onion through the operator\'s tor, starts none, leaves it running', async () => {
  const net = await sharedTorNetwork();
  // The operator's tor: joined to the private network, password auth only, ports chosen by tor.
  const torDir = join(scratch, 'operator-tor');
  mkdirSync(torDir, { recursive: true, mode: 0o700 });
  const password = randomBytes(16).toString('hex');
  const hashed = spawnSync(findBinary('tor'), ['--quiet', '--hash-password', password], { encoding: 'utf8' }).stdout.trim().split('\n').pop() ?? '';
  expect(hashed).toMatch(/^16:[0-9A-F]+$/);
  const portFile = join(torDir, 'control_port');
  writeTorrc(join(torDir, 'torrc'), [
    ...joinTorrcLines(net), `DataDirectory ${torDir}`, 'RunAsDaemon 0', `Log notice file ${join(torDir, 'notice.log')}`,
    'SocksPort 127.0.0.1:auto', 'ControlPort 127.0.0.1:auto', `ControlPortWriteToFile ${portFile}`, 'CookieAuthentication 0',
    `HashedControlPassword ${hashed}`,
  ]);
  const operatorTor: TorChild = spawnTor(join(torDir, 'torrc'));
  cleanup.push(() => stopTor(operatorTor));
  const controlPort = await waitUntil(() => {
    try {
      return Number(/PORT=[0-9.]+:(\d+)/.exec(readFileSync(portFile, 'utf8'))?.[1] ?? 0);
    } catch {
      return 0;
    }
  }, 30_000, 'the operator tor\'s control port', 20);
  const passwordFile = join(scratch, 'tor-password');
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });

  const logLines: string[] = [];
  const logger = pino({ level: 'debug' }, new Writable({ write: (c, _e, cb) => { logLines.push(String(c)); cb(); } }));
  const dataDir = join(scratch, 'external-node');
  const node = await InfonetNode.start({
    dataDir, logger,
    config: resolveConfig({ env: { MESH_PEER_PUSH_SECRET: 'tor-control-secret', INFONET_TOR_CONTROL: `127.0.0.1:${controlPort}`, INFONET_TOR_PASSWORD_FILE: passwordFile } }),
  });
  let stopped = false;
  cleanup.push(async () => {
    if (!stopped) await node.stop();
  });
  const onion = node.onion!;
  expect(onion.url).toMatch(/^http:\/\/[a-z2-7]{56}\.onion$/);
  expect(node.settings.peers.publicPeerUrl).toBe(onion.url);
  expect(onion.status()).toMatchObject({ published: 1, tor: { kind: 'external', state: 'ready', pid: null } });
  expect(existsSync(join(dataDir, 'tor'))).toBe(false); // no managed tor directory: it started no tor

  // Reached from another tor of the network (the network's client): the node's own sync page answers.
  const client = new OnionPeerTransport({ socks: { host: '127.0.0.1', port: net.client.socksPort } });
  cleanup.push(() => client.close());
  const body = Buffer.from(JSON.stringify({ protocol_version: PROTOCOL_VERSION, locator: [], limit: 1 }));
  const page = await waitUntil(async () => {
    const r = await client.send({ peer: onion.url, route: 'infonet/sync', body, headers: {}, timeoutMs: 30_000 });
    return r.status === 200 ? JSON.parse(Buffer.from(r.body).toString('utf8')) as { ok: boolean } : null;
  }, 120_000, 'the node\'s onion, published through the operator\'s tor, to answer', 500);
  expect(page.ok).toBe(true);

  await node.stop();
  stopped = true;
  expect(operatorTor.child.exitCode).toBeNull();
  expect(operatorTor.child.signalCode).toBeNull();
  const c = await TorControl.open('127.0.0.1', controlPort, { password });
  expect((await c.bootstrap()).progress).toBe(100);
  c.close();
  expect(logLines.join('')).not.toContain(password);
});
