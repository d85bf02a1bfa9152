// Hard bounds on state an outsider can grow in the peer layer (issue 8 "bounded state"; docs/bounds.md): rate-limit
// buckets, the pull throttle memory, pulls in flight. Each test drives far more distinct keys than the bound allows.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RateLimiter, RATE_LIMIT_MAX_BUCKETS } from '../../peer/rate-limit.js';
import { manualClock } from '../../protocol/clock.js';
import { PENDING_PULLS_MAX, PULL_MEMORY_MAX } from '../../actors/replication-actor.js';
import type { MailboxProof } from '../../protocol/mailbox-access.js';
import { openSender, removeTempDirs, type Sender } from './outbound-helpers.js';

describe('rate-limit buckets', () => {
  test('a spray of client keys never holds more than the cap; idle buckets go first, the active client keeps its state', () => {
    const clock = manualClock(1_000);
    const rl = new RateLimiter(clock, 100);
    // An active client exhausts its 5/min budget.
    for (let i = 0; i < 5; i++) expect(rl.take('active', 5).ok).toBe(true);
    expect(rl.take('active', 5).ok).toBe(false);
    // 50 clients that go idle for a minute, then a spray of 10,000 fresh keys while 'active' keeps asking.
    for (let i = 0; i < 50; i++) rl.take(`idle-${i}`, 5);
    clock.advance(61);
    for (let i = 0; i < 10_000; i++) {
      rl.take(`spray-${i}`, 5);
      if (rl.size > 100) throw new Error(`bucket cap exceeded: ${rl.size}`);
      if (i % 50 === 0) rl.take('active', 5); // recently used: never the eviction victim
    }
    expect(rl.size).toBeLessThanOrEqual(100);
    // It refilled for 61 s (5 tokens) and spent them on the periodic asks above, so it is still limited.
    expect(rl.take('active', 5).ok).toBe(false);
  });

  test('the default cap is the documented constant', () => {
    expect(RATE_LIMIT_MAX_BUCKETS).toBe(10_000);
  });
});

/** A peer that accepts pull requests and never answers them (until closed). */
async function silentPeer(): Promise<{ url: string; held: IncomingMessage[]; close(): Promise<void> }> {
  const held: IncomingMessage[] = [];
  const server: Server = createServer((req) => { held.push(req); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`, held,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

describe('replication memory bounds', () => {
  let sender: Sender | undefined;
  let peer: Awaited<ReturnType<typeof silentPeer>> | undefined;
  afterEach(async () => {
    await sender?.close();
    await peer?.close();
    removeTempDirs();
  });

  test('pull throttle memory and pulls in flight stay under their bounds for thousands of distinct (and huge) agent ids', async () => {
    peer = await silentPeer();
    sender = await openSender({ peers: [peer.url], pullWaitMs: 0, bounds: { pullMemory: 50, pendingPulls: 4 } });
    const r = sender.replicator;
    for (let i = 0; i < 300; i++) {
      // 10 KB agent ids: the throttle keys are hashes, so the memory does not grow with them.
      const agent = `agent-${i}-${'x'.repeat(10_000)}`;
      // The poll's forwarded proof (its signature is the receiving peer's business; this peer never answers).
      const proof: MailboxProof = {
        agent_id: agent, claims: [{ type: 'requests' }] as MailboxProof['claims'], public_key: '', public_key_algo: 'Ed25519',
        sequence: i + 1, timestamp: 1, nonce: `n${i}`, signature: '',
      };
      await r.beforePoll(agent, [{ type: 'requests' }], proof);
      expect(r.memory.lastPull).toBeLessThanOrEqual(50);
      expect(r.memory.pendingPulls).toBeLessThanOrEqual(4);
    }
    expect(r.memory.pendingPulls).toBe(4); // the silent peer holds them; further polls read local mailboxes only
    expect(r.metrics.get('dm_pull_throttled')).toBeGreaterThanOrEqual(296);
  });

  test('the defaults are the documented constants', () => {
    expect(PULL_MEMORY_MAX).toBe(10_000);
    expect(PENDING_PULLS_MAX).toBe(64);
  });
});
