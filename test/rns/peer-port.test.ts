// The peer port over RNS between two endpoints on a real TCP link (127.0.0.1): node B serves the real peer application
// (chain + mailboxes on LevelDB) behind the RNS listener; node A's RnsPeerService implements PeerTransport for
// `rns://<hash>` peers with §8 HMAC headers signed for its own rns:// URL. Errors: no path → UNAVAILABLE, no answer →
// TIMEOUT, forged X-Peer-Url → refused before the application.
import { randomBytes } from 'node:crypto';
import { createPeerApplication } from '../../peer/app.js';
import { ErrorCodes } from '../../protocol/errors.js';
import { signPeerRequest } from '../../protocol/peer-auth.js';
import { RnsService } from '../../transports/rns/rns-service.js';
import { openFixture, removeTempDirs, sharedEnvelope, tempDir, type Fixture } from '../replication/inbound-helpers.js';

const SECRET = 'rns-peer-secret';
const fast = { perHopTimeoutMs: 200, receiptMarginMs: 200, pathDiscovery: { pathTimeoutMs: 1_500, retryIntervalMs: 500 }, reconnect: { firstDelayMs: 50, maxDelayMs: 200 }, announceIntervalS: 0 };

describe('RNS peer transport + listener', () => {
  let a: RnsService;
  let b: RnsService;
  let fx: Fixture;

  beforeAll(async () => {
    b = await RnsService.start({ ...fast, dataDir: tempDir('rns-b-'), listen: { host: '127.0.0.1', port: 0 } });
    a = await RnsService.start({ ...fast, dataDir: tempDir('rns-a-'), connect: [b.listenAddress!] });
    fx = await openFixture({ env: { MESH_PEER_PUSH_SECRET: SECRET, MESH_RELAY_PEERS: a.peerUrl, MESH_DM_PENDING_PER_SENDER_LIMIT: '100' } });
    b.peer.listen(createPeerApplication(fx));
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await fx?.close();
    removeTempDirs();
  });

  const signedCall = (body: string, route: 'dm/replicate-envelope' | 'dm/replicate-envelopes' | 'infonet/sync' = 'dm/replicate-envelope', timeoutMs = 15_000) => ({
    peer: b.peerUrl,
    route,
    body: Buffer.from(body),
    headers: { ...signPeerRequest(a.peerUrl, body, { pushSecret: SECRET, peerSecrets: '' }), 'Content-Type': 'application/json' },
    timeoutMs,
  });

  test('handles only rns://<32 hex> URLs; the announce app_data names the peer URL', async () => {
    expect(a.peer.handles(b.peerUrl)).toBe(true);
    expect(a.peer.handles('RNS://' + b.endpoint.destinationHex.toUpperCase())).toBe(true);
    expect(a.peer.handles('rns://abc')).toBe(false);
    expect(a.peer.handles('http://127.0.0.1:1')).toBe(false);
    const { waitUntil } = await import('../../harness/wait.js');
    await waitUntil(() => a.endpoint.knownPeers().get(b.endpoint.destinationHex) === b.peerUrl, 10_000, 'A to learn B');
  });

  test('replicate-envelope over RNS: HMAC verified with the rns:// URL, envelope stored at B', async () => {
    const r = await a.peer.send(signedCall(JSON.stringify({ envelope: sharedEnvelope('dm_rns_1', 'tok-rns') })));
    expect(r.status).toBe(200);
    expect(JSON.parse(Buffer.from(r.body).toString())).toMatchObject({ ok: true });
    expect(await fx.mailboxes.count('x', [{ type: 'shared', token: 'tok-rns' }])).toBe(1);
  });

  test('a batch of several KiB arrives intact (many chunks each way)', async () => {
    const envelopes = Array.from({ length: 12 }, (_, i) => sharedEnvelope(`dm_rns_batch_${i}`, 'tok-rns-batch'));
    const body = JSON.stringify({ envelopes });
    expect(body.length).toBeGreaterThan(4096);
    const r = await a.peer.send(signedCall(body, 'dm/replicate-envelopes'));
    expect(r.status).toBe(200);
    const json = JSON.parse(Buffer.from(r.body).toString());
    expect(json.results.map((x: { ok: boolean }) => x.ok)).toEqual(Array(12).fill(true));
    expect(await fx.mailboxes.count('x', [{ type: 'shared', token: 'tok-rns-batch' }])).toBe(12);
  });

  test('a wrong HMAC is refused by the peer application (403), not by the transport', async () => {
    const call = signedCall(JSON.stringify({ envelope: sharedEnvelope('dm_rns_bad', 'tok-bad') }));
    const r = await a.peer.send({ ...call, headers: { ...call.headers, 'X-Peer-HMAC': '00'.repeat(32) } });
    expect(r.status).toBe(403);
    expect(await fx.mailboxes.count('x', [{ type: 'shared', token: 'tok-bad' }])).toBe(0);
  });

  test('X-Peer-Url naming another peer than the reply destination is refused before the application', async () => {
    const body = JSON.stringify({ envelope: sharedEnvelope('dm_rns_forged', 'tok-forged') });
    const other = `rns://${randomBytes(16).toString('hex')}`;
    const r = await a.peer.send({ ...signedCall(body), headers: { ...signPeerRequest(other, body, { pushSecret: SECRET, peerSecrets: '' }) } });
    expect(r.status).toBe(403);
    expect(await fx.mailboxes.count('x', [{ type: 'shared', token: 'tok-forged' }])).toBe(0);
  });

  test('unknown destination → UNAVAILABLE (retryable); non-RNS URL → BAD_INPUT', async () => {
    await expect(a.peer.send({ ...signedCall('{}'), peer: `rns://${randomBytes(16).toString('hex')}` })).rejects.toMatchObject({ code: ErrorCodes.UNAVAILABLE });
    await expect(a.peer.send({ ...signedCall('{}'), peer: 'http://127.0.0.1:9' })).rejects.toMatchObject({ code: ErrorCodes.BAD_INPUT });
  });

  test('no answer within timeoutMs → TIMEOUT', async () => {
    b.peer.listen({ handle: () => new Promise(() => undefined) }); // an application that never answers
    try {
      await expect(a.peer.send(signedCall('{}', 'dm/replicate-envelope', 300))).rejects.toMatchObject({ code: ErrorCodes.TIMEOUT });
    } finally {
      b.peer.listen(createPeerApplication(fx));
    }
  });

  test('status: destination hash, interfaces, known paths and per-peer link state', () => {
    const s = a.status();
    expect(s.destination_hash).toBe(a.endpoint.destinationHex);
    expect(s.interfaces[0]).toMatchObject({ kind: 'tcp-client', state: 'connected' });
    expect(s.paths.map((p) => p.destination)).toContain(b.endpoint.destinationHex);
    expect(s.links.find((l) => l.destination === b.endpoint.destinationHex)?.state).toBe('ready');
    expect(b.status().interfaces.map((i) => i.kind)).toEqual(['tcp-server', 'tcp-accepted']);
  });
});
