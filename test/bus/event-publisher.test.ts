// The event publisher holds a turn's events and hands them to NATS together (one socket write instead of one per
// event emitted an await apart), and a command's events still go out before its reply.
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { Subject } from 'rxjs';
import { InfonetClient } from '../../bus/client.js';
import { EVENT_HOLD_MAX, startBusService, startEventPublisher } from '../../bus/service.js';
import type { ChainActor } from '../../actors/chain-actor.js';
import type { MailboxDomainEvent, MailboxRegistry } from '../../actors/mailbox-registry.js';
import type { InfonetNode } from '../../node/infonet-node.js';
import { messagePayload, removeTempDirs, startNode, tempDataDir } from '../node/helpers.js';
import { generateIdentity } from '../../protocol/identity.js';
import { defaultSettings } from '../../protocol/settings.js';
import { startServer, stopAll } from '../helpers/nats.js';

let nc: NatsConnection;
let serverUrl: string;
let node: InfonetNode | undefined;
let client: InfonetClient | undefined;

beforeAll(async () => {
  const server = await startServer();
  serverUrl = server.clientUrl;
  nc = await connect({ servers: serverUrl });
});

afterAll(async () => {
  await client?.close();
  await node?.stop();
  await nc?.close();
  await stopAll();
  removeTempDirs();
});

/** A publisher over the real connection, fed by hand; `published` records each nc.publish call's subject. */
function publisherUnderTest(): { mail: Subject<MailboxDomainEvent>; published: string[]; stop(): void; flush(): void } {
  const mail = new Subject<MailboxDomainEvent>();
  const published: string[] = [];
  const counting = new Proxy(nc, {
    get(target, prop) {
      if (prop === 'publish') return (subject: string, data: Uint8Array) => { published.push(subject); target.publish(subject, data); };
      const v = Reflect.get(target, prop) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const chain = { events$: new Subject() } as unknown as ChainActor;
  const mailboxes = { events$: mail } as unknown as MailboxRegistry;
  const p = startEventPublisher(counting, '!sb_00', chain, mailboxes, pino({ level: 'silent' }));
  return { mail, published, stop: () => p.stop(), flush: () => p.flush() };
}

const deposited = (i: number): MailboxDomainEvent => ({ type: 'deposited', mailbox_key: `k${i}`, msg_id: `m${i}`, origin: 'local', delivery_class: 'shared' });

test('events emitted an await apart are published together at the end of the turn', async () => {
  const { mail, published, stop } = publisherUnderTest();
  for (let i = 0; i < 5; i++) {
    mail.next(deposited(i));
    await Promise.resolve(); // nats.js flushes its buffer in a microtask: without the hold, one write per event
    expect(published).toEqual([]);
  }
  await new Promise((resolve) => setImmediate(resolve)); // queued after the publisher's own
  expect(published).toHaveLength(5);
  stop();
});

test('flush() publishes at once; stop() publishes what is held; a full hold is published on the spot', async () => {
  const t = publisherUnderTest();
  t.mail.next(deposited(1));
  t.flush();
  expect(t.published).toHaveLength(1);
  for (let i = 0; i < EVENT_HOLD_MAX; i++) t.mail.next(deposited(i));
  expect(t.published).toHaveLength(1 + EVENT_HOLD_MAX);
  t.mail.next(deposited(0));
  t.stop();
  expect(t.published).toHaveLength(2 + EVENT_HOLD_MAX);
});

test('the bus service flushes held events before a reply: an event emitted in the same turn as the reply comes first', async () => {
  const mail = new Subject<MailboxDomainEvent>();
  const nodeId = '!sb_0123456789abcdef';
  const chain = { events$: new Subject() } as unknown as ChainActor;
  const mailboxes = {
    events$: mail,
    deposit: async (req: { msg_id: string }) => {
      mail.next({ ...deposited(0), msg_id: req.msg_id }); // emitted, then answered without leaving the turn
      return { ok: true, msg_id: req.msg_id };
    },
    accessOptions: () => ({ settings: defaultSettings().relay }),
  } as unknown as MailboxRegistry;
  const publisher = startEventPublisher(nc, nodeId, chain, mailboxes, pino({ level: 'silent' }));
  const service = await startBusService(nc, { nodeId, chain, mailboxes, status: async () => ({}) as never, beforeReply: () => publisher.flush() }, pino({ level: 'silent' }));
  const c = await InfonetClient.connect(serverUrl, nodeId);
  try {
    const seen: string[] = [];
    c.events$('dm_deposited').subscribe((e) => seen.push((e.body as { msg_id: string }).msg_id));
    await c.flush();
    await c.dmDeposit({ sender_id: 'alice', ciphertext: 'c2VhbGVk', delivery_class: 'shared', recipient_token: 'tok-1', msg_id: 'same-turn' });
    expect(seen).toEqual(['same-turn']);
  } finally {
    await c.close();
    await service.stop();
    publisher.stop();
  }
});

test("a command's events reach a subscriber before the command's reply (DM deposit, chain append)", async () => {
  node = await startNode({ dataDir: tempDataDir() });
  client = await InfonetClient.connect(node.natsUrl, node.nodeId);
  const seen: string[] = [];
  const sub = client.events$('dm_deposited').subscribe((e) => seen.push((e.body as { msg_id: string }).msg_id));
  await client.flush();
  for (let i = 0; i < 3; i++) {
    await client.dmDeposit({ sender_id: `sender-${i}`, ciphertext: 'c2VhbGVk', delivery_class: 'shared', recipient_token: `tok-${i}`, msg_id: `m${i}` });
    expect(seen).toContain(`m${i}`);
  }
  sub.unsubscribe();
  const heights: number[] = [];
  const appended = client.events$('chain_appended').subscribe((e) => heights.push((e.body as { height: number }).height));
  await client.flush();
  const author = generateIdentity();
  for (let i = 1; i <= 3; i++) {
    await client.appendSigned(author, 'message', messagePayload(i));
    expect(heights).toContain(i);
  }
  appended.unsubscribe();
});
