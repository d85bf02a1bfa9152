// Endpoints behind transport nodes (rns-wire.md §12): one hop (A — T1 — B) and two hops (A — T1 — T2 — B) over real
// TCP on 127.0.0.1. Paths beyond one hop make the sender insert HEADER_2 with the announced next hop (flags 0x50 on
// the wire), the packet hash survives the rewrites so proofs come back through the reverse tables, and a late
// joiner gets its path from a transport node's answer to a path request.
import { randomBytes } from 'node:crypto';
import { waitUntil } from '../../harness/wait.js';
import { RnsEndpoint } from '../../transports/rns/endpoint.js';
import { RnsIdentity } from '../../transports/rns/identity.js';
import { PacketType } from '../../transports/rns/constants.js';
import { TcpClientInterface } from '../../transports/rns/tcp-interface.js';
import { MiniTransport } from './mini-transport.js';

const fast = { perHopTimeoutMs: 300, receiptMarginMs: 200, pathDiscovery: { pathTimeoutMs: 3_000, retryIntervalMs: 500 } };
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function endpoint(name: string, to: { host: string; port: number }): { ep: RnsEndpoint; inbox: Buffer[]; iface: TcpClientInterface } {
  const ep = new RnsEndpoint({ identity: RnsIdentity.generate(), appData: Buffer.from(name), ...fast });
  const inbox: Buffer[] = [];
  ep.onMessage = (m) => inbox.push(m);
  const iface = new TcpClientInterface(`${name}-tcp`, ep, to, { firstDelayMs: 50, maxDelayMs: 200 });
  cleanups.push(() => iface.stop(), () => ep.close());
  return { ep, inbox, iface };
}

async function transport(name: string): Promise<{ t: MiniTransport; addr: { host: string; port: number } }> {
  const t = new MiniTransport(name);
  const addr = await t.start();
  cleanups.push(() => t.stop());
  return { t, addr };
}

test('one transport hop: announces arrive as HEADER_2 with hops 2; DATA is inserted into transport and proven', async () => {
  const { t, addr } = await transport('t1');
  const a = endpoint('a', addr);
  await waitUntil(() => t.routeTo(a.ep.destinationHex), 5_000, 'T1 to learn A');
  const b = endpoint('b', addr); // B joins after A's announce went by: only A learns a path from the re-broadcast
  await waitUntil(() => a.ep.knownPeers().has(b.ep.destinationHex), 5_000, 'A to learn B');
  const path = a.ep.status().paths.find((p) => p.destination === b.ep.destinationHex)!;
  expect(path).toMatchObject({ hops: 2, nextHop: t.id.toString('hex') });
  const msg = randomBytes(3000);
  await a.ep.sendMessage(b.ep.destinationHex, msg);
  await waitUntil(() => b.inbox.length === 1, 5_000, 'B to receive');
  expect(b.inbox[0].equals(msg)).toBe(true);
  const dataFromA = t.heard.filter((p) => p.packetType === PacketType.DATA && p.destinationHash.toString('hex') === b.ep.destinationHex);
  expect(dataFromA.length).toBeGreaterThan(0);
  expect(dataFromA.every((p) => p.raw[0] === 0x50 && p.transportId!.equals(t.id))).toBe(true);
  expect(a.ep.counters.proofsMatched).toBe(dataFromA.length);
  // A ignored its own announce echoed back by T1
  expect(a.ep.knownPeers().has(a.ep.destinationHex)).toBe(false);
});

test('two transport hops: the first transport rewrites the transport id, the last strips to HEADER_1; answers flow back', async () => {
  const t1 = await transport('t1');
  const t2 = await transport('t2');
  const link = t1.t.connect(t2.addr);
  await waitUntil(() => link.state === 'connected', 5_000, 'T1–T2 link');
  const a = endpoint('a', t1.addr);
  const b = endpoint('b', t2.addr);
  await waitUntil(() => a.ep.knownPeers().has(b.ep.destinationHex) && b.ep.knownPeers().has(a.ep.destinationHex), 5_000, 'A and B to learn each other');
  expect(a.ep.status().paths.find((p) => p.destination === b.ep.destinationHex)).toMatchObject({ hops: 3, nextHop: t1.t.id.toString('hex') });
  const msg = randomBytes(5000);
  await a.ep.sendMessage(b.ep.destinationHex, msg);
  await waitUntil(() => b.inbox.length === 1, 5_000, 'B to receive');
  expect(b.inbox[0].equals(msg)).toBe(true);
  expect(t2.t.heard.some((p) => p.packetType === PacketType.DATA && p.raw[0] === 0x50 && p.transportId!.equals(t2.t.id))).toBe(true);
  await b.ep.sendMessage(a.ep.destinationHex, Buffer.from('answer'));
  await waitUntil(() => a.inbox.length === 1, 5_000, 'A to receive the answer');
  expect(a.inbox[0].toString()).toBe('answer');
});

test('a late joiner learns the path from the transport node answering its path request', async () => {
  const { t, addr } = await transport('t1');
  const b = endpoint('b', addr);
  await waitUntil(() => t.routeTo(b.ep.destinationHex), 5_000, 'T1 to learn B');
  const c = endpoint('c', addr); // B's announce went out before C connected
  await waitUntil(() => c.iface.state === 'connected', 5_000, 'C connected');
  expect(c.ep.knownPeers().has(b.ep.destinationHex)).toBe(false);
  await c.ep.sendMessage(b.ep.destinationHex, Buffer.from('hello late'));
  await waitUntil(() => b.inbox.length === 1, 5_000, 'B to receive');
  expect(c.ep.counters.pathRequestsSent).toBeGreaterThan(0);
  expect(c.ep.status().paths.find((p) => p.destination === b.ep.destinationHex)).toMatchObject({ hops: 2 });
});
