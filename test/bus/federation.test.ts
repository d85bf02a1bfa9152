import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { requestTyped, toReply, decodeRequest } from '../../bus/codec.js';
import { cmdSubject } from '../../bus/subjects.js';
import { issueLeafCredential, startHub } from '../../bus/hub.js';
import { connectBus } from '../../bus/connect.js';
import { readCredsFile } from '../../bus/credentials.js';
import { hubCommand } from '../../cli/hub.js';
import { startHubWithLeaves, stopAll, waitForLeafConnected, waitForResponder, startServer, type Federation } from '../helpers/nats.js';

describe('hub with two leaves', () => {
  let fed: Federation;
  const conns: NatsConnection[] = [];
  const open = async (url: string): Promise<NatsConnection> => {
    const nc = await connect({ servers: url });
    conns.push(nc);
    return nc;
  };

  beforeAll(async () => {
    fed = await startHubWithLeaves(2, { leafJetStream: true });
  });
  afterAll(async () => {
    await Promise.all(conns.map((c) => c.close()));
    await fed?.stopAll();
    await stopAll();
  });

  it('a responder on leaf A answers a request from a client on leaf B', async () => {
    const a = await open(fed.leaves[0].clientUrl);
    const b = await open(fed.leaves[1].clientUrl);
    const subject = cmdSubject('!sb_leafA', 'echo', 'say');
    a.subscribe(subject, {
      callback: (_e, m) => {
        const req = decodeRequest<{ text?: string } | undefined>(m.data);
        m.respond(toReply(req.ok ? { echoed: req.value?.text, by: 'A' } : req.error));
      },
    });
    await a.flush();
    await waitForResponder(b, subject, undefined, 10_000);
    const r = await requestTyped<{ echoed: string; by: string }>(b, subject, { text: 'hello' }, 2000);
    expect(r).toEqual({ echoed: 'hello', by: 'A' });
  });

  it('JetStream in the hub domain works from a leaf client', async () => {
    const b = await open(fed.leaves[1].clientUrl);
    const jsm = await jetstreamManager(b, { domain: 'hub' });
    await jsm.streams.add({ name: 'FED', subjects: ['fed.>'] });
    const js = jetstream(b, { domain: 'hub' });
    const ack = await js.publish('fed.x', 'via-leaf');
    expect(ack.domain).toBe('hub');
    expect(ack.stream).toBe('FED');
    // visible from a client connected straight to the hub
    const h = await open(fed.hub.clientUrl);
    const hm = await jetstreamManager(h);
    const msg = await hm.streams.getMessage('FED', { seq: 1 });
    expect(msg?.string()).toBe('via-leaf');
    // the leaf's own JetStream (its own domain) is separate
    const localJsm = await jetstreamManager(b);
    const local = await localJsm.streams.names().next();
    expect(local).not.toContain('FED');
  });
});

describe('hub (infonet hub run)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'infonet-hub-'));
  });
  afterAll(async () => {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('startHub opens an authenticated client and leaf listener; a leaf joins with an issued credential', async () => {
    const hub = await startHub({ dataDir: dir });
    try {
      expect(hub.leafUrl).toMatch(/^nats-leaf:\/\/127\.0\.0\.1:\d+$/);
      await expect(connect({ servers: hub.clientUrl })).rejects.toThrow(/Authorization/i);
      const creds = readCredsFile(issueLeafCredential(dir, { name: 'L1', nodeId: '!sb_leaf1' }));
      if (creds.kind !== 'user') throw new Error('leaf credential is user/password');
      const leaf = await startServer({ leafRemotes: [hub.leafUrl], leafCredentials: creds });
      await waitForLeafConnected(hub.server, 1);
      const nc = await connectBus(hub.clientUrl, { creds: hub.adminCreds });
      const js = jetstream(nc, { domain: hub.domain });
      const jsm = await jetstreamManager(nc, { domain: hub.domain });
      await jsm.streams.add({ name: 'H', subjects: ['h.>'] });
      expect((await js.publish('h.1', 'x')).seq).toBe(1);
      await nc.close();
      await leaf.stop();
    } finally {
      await hub.stop();
    }
  });

  it('hubCommand prints urls and stops on SIGTERM', async () => {
    const lines: string[] = [];
    const done = hubCommand(['run', '--data', dir, '--domain', 'hub2'], { out: (l) => lines.push(l), err: (l) => lines.push(l) });
    const { waitFor } = await import('../helpers/nats.js');
    await waitFor(() => lines.some((l) => l.startsWith('leaf url:')), 10_000);
    expect(lines.some((l) => /^client url: nats:\/\/127\.0\.0\.1:\d+ /.test(l))).toBe(true);
    process.emit('SIGTERM', 'SIGTERM');
    await expect(done).resolves.toBe(0);
  });

  it('hub issue-leaf while the hub runs: the credential file is mode 600 and the reloaded hub accepts the leaf', async () => {
    const hub = await startHub({ dataDir: dir });
    try {
      const lines: string[] = [];
      const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
      await expect(hubCommand(['issue-leaf', '--data', dir, '--name', 'late', '--node', '!sb_late'], io)).resolves.toBe(0);
      const file = lines[0];
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const creds = readCredsFile(file);
      if (creds.kind !== 'user') throw new Error('leaf credential is user/password');
      const leaf = await startServer({ leafRemotes: [hub.leafUrl], leafCredentials: creds });
      await waitForLeafConnected(hub.server, 1, 20_000); // the hub learnt the user through SIGHUP reload
      await leaf.stop();
      await expect(hubCommand(['issue-leaf', '--data', dir, '--name', 'bad name', '--node', '!sb_x'], io)).resolves.toBe(2);
    } finally {
      await hub.stop();
    }
  });

  it('hubCommand rejects bad arguments with exit code 2', async () => {
    const errs: string[] = [];
    const io = { out: () => undefined, err: (l: string) => errs.push(l) };
    await expect(hubCommand(['run'], io)).resolves.toBe(2);
    await expect(hubCommand(['run', '--data', dir, '--port', 'x'], io)).resolves.toBe(2);
    await expect(hubCommand(['run', '--bogus'], io)).resolves.toBe(2);
  });
});
