import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, jetstream } from '@nats-io/jetstream';
import { createServer } from 'node:net';
import { findNatsServer, freePort, renderConfig, startNatsServer, NATS_INSTALL_HINT } from '../../bus/nats-server.js';
import { InfonetError } from '../../protocol/errors.js';
import { startServer, stopAll, waitFor, monitor } from '../helpers/nats.js';

afterAll(async () => {
  await stopAll();
});

describe('findNatsServer', () => {
  it('finds the installed binary', () => {
    expect(findNatsServer()).toMatch(/nats-server$/);
  });
  it('explains how to install it when missing', () => {
    const fake = { PATH: '/nonexistent', NATS_SERVER_BIN: '/nonexistent/nats-server' };
    expect(NATS_INSTALL_HINT).toContain('apt-get install nats-server');
    let err: unknown;
    try {
      findNatsServer(fake, ['/nonexistent/sbin/nats-server']);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InfonetError);
    expect((err as InfonetError).code).toBe('unavailable');
    expect((err as InfonetError).reason).toContain('apt-get install nats-server');
    // the Debian location is found even without PATH
    if (existsSync('/usr/sbin/nats-server')) expect(findNatsServer(fake)).toBe('/usr/sbin/nats-server');
  });
});

describe('freePort', () => {
  test('picks a port below the kernel\'s ephemeral range (where port-0 binds cannot take it meanwhile) that binds', async () => {
    const [lo] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    for (let i = 0; i < 5; i++) {
      const port = await freePort();
      expect(port).toBeLessThan(lo);
      const srv = createServer();
      await new Promise<void>((resolve, reject) => { srv.once('error', reject); srv.listen({ host: '127.0.0.1', port }, resolve); });
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    }
  });
});

describe('renderConfig', () => {
  it('writes leaf remotes, listener, domain and monitoring', () => {
    const { text, domain } = renderConfig(
      { serverName: 'leafA', jetstream: { storeDir: '/tmp/x' }, leafRemotes: ['nats-leaf://127.0.0.1:7422'] },
      { port: 1234, monitorPort: 8222 },
    );
    expect(text).toContain('server_name: "leafA"');
    expect(text).toContain('listen: "127.0.0.1:1234"');
    expect(text).toContain('http: "127.0.0.1:8222"');
    expect(text).toContain('remotes: [ { url: "nats-leaf://127.0.0.1:7422" } ]');
    expect(domain).toBe('leafA'); // leaf with its own JetStream gets a domain
    expect(text).toContain('domain: "leafA"');
  });
});

describe('single server', () => {
  it('starts on free ports, pub/sub works, stop ends the process', async () => {
    const srv = await startServer();
    expect(srv.port).not.toBe(4222);
    expect(srv.clientUrl).toBe(`nats://127.0.0.1:${srv.port}`);
    const varz = await monitor<{ server_name: string }>(srv, '/varz');
    expect(varz.server_name).toBe(srv.serverName);

    const nc = await connect({ servers: srv.clientUrl });
    const got: string[] = [];
    const sub = nc.subscribe('infonet.t.evt.ping', { callback: (_e, m) => { got.push(m.string()); } });
    await nc.flush();
    for (let i = 0; i < 5; i++) nc.publish('infonet.t.evt.ping', `m${i}`);
    await waitFor(() => got.length === 5);
    expect(got).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    sub.unsubscribe();
    await nc.close();

    await srv.stop();
    await srv.exited;
    expect(() => process.kill(srv.pid, 0)).toThrow(); // the process is gone
    await srv.stop(); // idempotent
  });

  it('fails with the log tail when the config is invalid', async () => {
    await expect(startNatsServer({ serverName: 'bad', extraConfig: 'this is { not valid' })).rejects.toThrow(/failed to start/);
  });

  it('rejects a server name that is not a single token', async () => {
    await expect(startNatsServer({ serverName: 'a b' })).rejects.toThrow(InfonetError);
  });
});

describe('embedded server with JetStream in a data dir', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'infonet-embedded-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps JetStream state across a stop and a restart with the same server name', async () => {
    const storeDir = join(dir, 'nats', 'jetstream');
    const first = await startNatsServer({ serverName: 'node_sb_1', jetstream: { storeDir }, configDir: join(dir, 'nats') });
    let nc: NatsConnection = await connect({ servers: first.clientUrl });
    let jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'KEEP', subjects: ['keep.>'] });
    await jetstream(nc).publish('keep.a', 'one');
    await nc.close();
    await first.stop();

    const second = await startNatsServer({ serverName: 'node_sb_1', jetstream: { storeDir }, configDir: join(dir, 'nats') });
    try {
      nc = await connect({ servers: second.clientUrl });
      jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info('KEEP');
      expect(info.state.messages).toBe(1);
      const m = await jsm.streams.getMessage('KEEP', { seq: 1 });
      expect(m?.string()).toBe('one');
      await nc.close();
    } finally {
      await second.stop();
    }
  });
});
