// Requests in the server → client direction: node S holds only a TCP server interface, node C connects to it. C's
// endpoint is up (connected, announced) before C's composition root calls `peer.listen(app)`, so S — hearing C's
// announce — can ask before C can answer. Such a request used to be dropped without an answer (S: TIMEOUT and a §9.6
// cooldown, which is how nodes.test.ts's "server pulls a client's chain" failed about 1 run in 2); it is now held and
// served once the application is registered.
import { createPeerApplication } from '../../peer/app.js';
import { signPeerRequest } from '../../protocol/peer-auth.js';
import { waitUntil } from '../../harness/wait.js';
import { RnsService } from '../../transports/rns/rns-service.js';
import { openFixture, removeTempDirs, sharedEnvelope, tempDir, type Fixture } from '../replication/inbound-helpers.js';

const SECRET = 'rns-s2c-secret';
const fast = { perHopTimeoutMs: 200, receiptMarginMs: 200, pathDiscovery: { pathTimeoutMs: 1_500, retryIntervalMs: 500 }, reconnect: { firstDelayMs: 50, maxDelayMs: 200 }, announceIntervalS: 0 };

describe('RNS requests from a TCP server node to its client', () => {
  let server: RnsService;
  let client: RnsService;
  let fx: Fixture;

  beforeAll(async () => {
    server = await RnsService.start({ ...fast, dataDir: tempDir('rns-s-'), listen: { host: '127.0.0.1', port: 0 } });
    client = await RnsService.start({ ...fast, dataDir: tempDir('rns-c-'), connect: [server.listenAddress!] });
    fx = await openFixture({ env: { MESH_PEER_PUSH_SECRET: SECRET, MESH_RELAY_PEERS: server.peerUrl } });
  });
  afterAll(async () => {
    await client?.stop();
    await server?.stop();
    await fx?.close();
    removeTempDirs();
  });

  const call = (body: string) => ({
    peer: client.peerUrl,
    route: 'dm/replicate-envelope' as const,
    body: Buffer.from(body),
    headers: { ...signPeerRequest(server.peerUrl, body, { pushSecret: SECRET, peerSecrets: '' }), 'Content-Type': 'application/json' },
    timeoutMs: 10_000,
  });

  test('a request that reaches the client before its application is registered is answered once it is', async () => {
    await waitUntil(() => server.endpoint.knownPeers().has(client.endpoint.destinationHex), 10_000, 'server to learn the client');
    const answer = server.peer.send(call(JSON.stringify({ envelope: sharedEnvelope('dm_s2c_early', 'tok-s2c') })));
    await waitUntil(() => client.endpoint.counters.messagesDelivered >= 1, 10_000, 'the request to reach the client');
    client.peer.listen(createPeerApplication(fx));
    const r = await answer;
    expect(r.status).toBe(200);
    expect(client.peer.stats.requestsServed).toBe(1);
    expect(await fx.mailboxes.count('x', [{ type: 'shared', token: 'tok-s2c' }])).toBe(1);
  });

  test('later requests from the server to the client are answered too', async () => {
    const r = await server.peer.send(call(JSON.stringify({ envelope: sharedEnvelope('dm_s2c_later', 'tok-s2c') })));
    expect(r.status).toBe(200);
    expect(server.peer.stats.responsesReceived).toBe(2);
    expect(await fx.mailboxes.count('x', [{ type: 'shared', token: 'tok-s2c' }])).toBe(2);
  });
});
