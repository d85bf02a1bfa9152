// A private Tor network on 127.0.0.1 (../shared/spec/tor-testnet.md): 3 directory authorities (also relays, HSDirs),
// N relays, a static onion service used as the readiness probe, and one client tor with a SocksPort and a cookie
// ControlPort. Keys are generated per run under `dir` (never the user's home); the DirAuthority lines replace the
// public authorities, so nothing here ever talks to the real Tor network.
//
// Shared by the jest onion tests (one network per jest run, test/helpers/tor.ts), the harness's `--transport onion`
// and the bench, like bus/nats-server.ts is shared by tests and production. A node joins the network by adding
// `joinTorrcLines(net)` to its managed tor's torrc.
//
// The network description is written to <dir>/network.json so another process (a jest worker, the global
// teardown) can attach to it or stop it by pid.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SocksProxyAgent } from 'socks-proxy-agent';
import { freePort } from '../bus/nats-server.js';
import { findBinary, spawnTor, writeTorrc } from '../transports/onion/tor-process.js';
import { waitUntil } from './wait.js';

export interface TorNetworkInfo {
  dir: string;
  /** The three `DirAuthority …` lines every tor of the network needs. */
  dirAuthorities: string[];
  /** Every tor of the network (SIGTERM them to stop it). */
  pids: number[];
  /** The client tor: SOCKS for tests, control port with cookie auth (an "operator's tor"). */
  client: { socksPort: number; controlPort: number; cookieFile: string };
  /** The static readiness-probe onion (`<id>.onion`). */
  probeOnion: string;
  startedAt: number;
  readyAfterMs?: number;
}

export interface TorNetworkOptions {
  dir: string;
  /** Non-authority relays (default 3). */
  relays?: number;
  /** Wait until an onion is reachable through the client (default true). */
  waitReady?: boolean;
  readyTimeoutMs?: number;
  log?: (msg: string) => void;
}

const NETWORK_FILE = 'network.json';

/** The "testing network" block every tor of this network (including node-managed tors) shares. */
function commonLines(dataDir: string, nick: string): string[] {
  return [
    ...testingLines(),
    `DataDirectory ${dataDir}`,
    'RunAsDaemon 0',
    `Nickname ${nick}`,
    `PidFile ${join(dataDir, 'pid')}`,
    `Log notice file ${join(dataDir, 'notice.log')}`,
    'SafeLogging 0',
    'LogTimeGranularity 1',
  ];
}

function testingLines(): string[] {
  return [
    'TestingTorNetwork 1',
    'PathsNeededToBuildCircuits 0.67',
    'TestingDirAuthVoteExit *',
    'TestingDirAuthVoteHSDir *',
    'TestingDirAuthVoteGuard *',
    'TestingMinExitFlagThreshold 0',
    'V3AuthNIntervalsValid 2',
    'ShutdownWaitLength 2',
    'Sandbox 0',
    'ConnLimit 60',
  ];
}

/** Lines a node's managed tor adds to join this network (instead of the public one). */
export function joinTorrcLines(net: TorNetworkInfo): string[] {
  return [...testingLines(), ...net.dirAuthorities];
}

function relayLines(orPort: number, dirPort: number): string[] {
  return [
    'SocksPort 0', `ORPort 127.0.0.1:${orPort}`, 'Address 127.0.0.1', `DirPort 127.0.0.1:${dirPort}`, 'ExitRelay 0', 'AssumeReachable 1',
    'ServerDNSDetectHijacking 0', 'ServerDNSTestAddresses', 'ServerDNSResolvConfFile /dev/null',
  ];
}

const AUTHORITY_LINES = [
  'AuthoritativeDirectory 1', 'V3AuthoritativeDirectory 1', 'ContactInfo auth@test.test',
  'TestingV3AuthInitialVotingInterval 20', 'TestingV3AuthInitialVoteDelay 4', 'TestingV3AuthInitialDistDelay 4',
  'V3AuthVotingInterval 20', 'V3AuthVoteDelay 4', 'V3AuthDistDelay 4',
];

function mkdir700(d: string): string {
  mkdirSync(d, { recursive: true, mode: 0o700 });
  chmodSync(d, 0o700);
  return d;
}

/** tor-gencert + --list-fingerprint for one authority (the keygen torrc must not say TestingTorNetwork, §3). */
function authorityKeys(d: string, nick: string, orPort: number, dirPort: number): { v3ident: string; fingerprint: string } {
  const keys = mkdir700(join(d, 'keys'));
  const gencert = spawnSync(findBinary('tor-gencert'), [
    '--create-identity-key', '--passphrase-fd', '0',
    '-i', join(keys, 'authority_identity_key'), '-s', join(keys, 'authority_signing_key'), '-c', join(keys, 'authority_certificate'),
    '-m', '12', '-a', `127.0.0.1:${dirPort}`,
  ], { input: 'test-network-only\n', encoding: 'utf8' });
  if (gencert.status !== 0) throw new Error(`tor-gencert failed for ${nick}: ${gencert.stderr}`);
  const keygenTorrc = join(d, 'torrc.keygen');
  writeTorrc(keygenTorrc, [`DataDirectory ${d}`, `Nickname ${nick}`, `ORPort ${orPort}`, 'Address 127.0.0.1', 'ContactInfo keygen@test.test', 'SocksPort 0']);
  const fp = spawnSync(findBinary('tor'), ['--ignore-missing-torrc', '-f', keygenTorrc, '--list-fingerprint'], { encoding: 'utf8' });
  const line = fp.stdout.trim().split('\n').pop() ?? '';
  const fingerprint = line.split(' ').slice(1).join('');
  if (fp.status !== 0 || !/^[0-9A-F]{40}$/.test(fingerprint)) throw new Error(`tor --list-fingerprint failed for ${nick}: ${fp.stdout}${fp.stderr}`);
  const cert = readFileSync(join(keys, 'authority_certificate'), 'utf8');
  const v3ident = /^fingerprint ([0-9A-F]{40})$/m.exec(cert)?.[1];
  if (!v3ident) throw new Error(`no fingerprint line in ${nick}'s authority certificate`);
  return { v3ident, fingerprint };
}

/** GET http://<onion>/ through a SOCKS port; resolves true on any HTTP answer. */
export function probeOnion(socksPort: number, onion: string, timeoutMs = 10_000): Promise<boolean> {
  const agent = new SocksProxyAgent(`socks5h://127.0.0.1:${socksPort}`, { timeout: timeoutMs });
  return new Promise((resolve) => {
    const req = http.get(`http://${onion}/`, { agent, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(true));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(false));
  }).finally(() => agent.destroy()) as Promise<boolean>;
}

export interface TorNetwork extends TorNetworkInfo {
  stop(): Promise<void>;
}

export async function startTorNetwork(opts: TorNetworkOptions): Promise<TorNetwork> {
  const log = opts.log ?? (() => undefined);
  const dir = mkdir700(opts.dir);
  const started = Date.now();
  const nRelays = opts.relays ?? 3;
  const pids: number[] = [];
  const info: TorNetworkInfo = { dir, dirAuthorities: [], pids, client: { socksPort: 0, controlPort: 0, cookieFile: '' }, probeOnion: '', startedAt: started };
  // The probe onion forwards here; any HTTP answer proves descriptors, intro and rendezvous all work.
  const probe = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const probePort = (probe.address() as AddressInfo).port;
  const closeProbe = (): Promise<void> => new Promise<void>((r) => (probe.listening ? probe.close(() => r()) : r()));
  const stop = async (): Promise<void> => {
    await stopTorNetwork(info);
    await closeProbe();
  };
  try {
    const authorities = await Promise.all([0, 1, 2].map(async (n) => ({ n, nick: `auth${n}`, or: await freePort(), dirp: await freePort() })));
    for (const a of authorities) {
      const d = mkdir700(join(dir, a.nick));
      const k = authorityKeys(d, a.nick, a.or, a.dirp);
      info.dirAuthorities.push(`DirAuthority ${a.nick} orport=${a.or} no-v2 v3ident=${k.v3ident} 127.0.0.1:${a.dirp} ${k.fingerprint}`);
    }
    const torrcs: string[] = [];
    for (const a of authorities) {
      const d = join(dir, a.nick);
      torrcs.push(join(d, 'torrc'));
      writeTorrc(join(d, 'torrc'), [...commonLines(d, a.nick), ...relayLines(a.or, a.dirp), ...AUTHORITY_LINES, ...info.dirAuthorities]);
    }
    for (let i = 0; i < nRelays; i++) {
      const nick = `relay${i}`;
      const d = mkdir700(join(dir, nick));
      torrcs.push(join(d, 'torrc'));
      writeTorrc(join(d, 'torrc'), [...commonLines(d, nick), ...relayLines(await freePort(), await freePort()), ...info.dirAuthorities]);
    }
    const hsDir = mkdir700(join(dir, 'probe-hs'));
    const hsKeys = mkdir700(join(hsDir, 'hidden_service'));
    torrcs.push(join(hsDir, 'torrc'));
    writeTorrc(join(hsDir, 'torrc'), [
      ...commonLines(hsDir, 'probehs'), 'SocksPort 0', `HiddenServiceDir ${hsKeys}`, 'HiddenServiceVersion 3',
      `HiddenServicePort 80 127.0.0.1:${probePort}`, ...info.dirAuthorities,
    ]);
    const clientDir = mkdir700(join(dir, 'client'));
    info.client = { socksPort: await freePort(), controlPort: await freePort(), cookieFile: join(clientDir, 'control_auth_cookie') };
    torrcs.push(join(clientDir, 'torrc'));
    writeTorrc(join(clientDir, 'torrc'), [
      ...commonLines(clientDir, 'client'), `SocksPort 127.0.0.1:${info.client.socksPort}`,
      `ControlPort 127.0.0.1:${info.client.controlPort}`, 'CookieAuthentication 1', ...info.dirAuthorities,
    ]);
    for (const t of torrcs) {
      // Unref'd and without pipes: the network may outlive the process that started it (a jest worker) and is
      // stopped by pid. Each tor logs to its own notice.log.
      const c = spawnTor(t, { keepOutput: false });
      c.child.unref();
      pids.push(c.pid);
    }
    log(`tor network: ${torrcs.length} tors started in ${dir}`);
    info.probeOnion = (await waitUntil(() => {
      try {
        return readFileSync(join(hsKeys, 'hostname'), 'utf8').trim();
      } catch {
        return '';
      }
    }, 30_000, 'the probe onion hostname')).toString();
    writeNetworkInfo(info);
    if (opts.waitReady !== false) {
      await waitUntil(() => probeOnion(info.client.socksPort, info.probeOnion, 10_000), opts.readyTimeoutMs ?? 180_000, 'the private tor network (an onion reachable through the client)', 1000);
      info.readyAfterMs = Date.now() - started;
      writeNetworkInfo(info);
      // The probe only proves readiness; closed now so a process that hands the network on (a jest worker) can exit.
      await closeProbe();
      log(`tor network ready after ${info.readyAfterMs} ms`);
    }
    return { ...info, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

export function writeNetworkInfo(info: TorNetworkInfo): void {
  writeFileSync(join(info.dir, NETWORK_FILE), JSON.stringify(info, null, 2) + '\n');
}

export function readNetworkInfo(dir: string): TorNetworkInfo | null {
  const f = join(dir, NETWORK_FILE);
  if (!existsSync(f)) return null;
  return JSON.parse(readFileSync(f, 'utf8')) as TorNetworkInfo;
}

const alive = (pid: number): boolean => {
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
};

/** SIGTERM every tor of the network (by the pids we started, only if they still run tor) and wait for them. */
export async function stopTorNetwork(info: Pick<TorNetworkInfo, 'pids'>): Promise<void> {
  const ours = info.pids.filter((p) => {
    try {
      return p > 1 && readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('tor');
    } catch {
      return false;
    }
  });
  for (const p of ours) {
    try {
      process.kill(p, 'SIGTERM');
    } catch {
      // gone
    }
  }
  await waitUntil(() => ours.every((p) => !alive(p)), 10_000, 'tor network shutdown', 50).catch(() => {
    for (const p of ours) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone
      }
    }
  });
}
