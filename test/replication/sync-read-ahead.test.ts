// Serving sync pages from a read-ahead window (peer/sync-read-ahead.ts, issue 14): one range read serves the pages a
// catching-up peer asks for next, and what is served is always what the chain holds now at those heights (a reset or
// fork replaces cached events; a chain that grew past a short window is read again).
import type { ChainEvent } from '../../protocol/event.js';
import { SyncReadAhead } from '../../peer/sync-read-ahead.js';

/** A chain of fake events in memory that counts its range reads. */
class FakeChain {
  events: ChainEvent[] = [];
  reads: Array<[number, number]> = [];
  constructor(n: number, private tag = 'a') {
    this.grow(n);
  }
  grow(n: number): void {
    for (let i = 0; i < n; i++) this.events.push({ event_id: `${this.tag}${this.events.length}` } as ChainEvent);
  }
  replace(n: number, tag: string): void {
    this.tag = tag;
    this.events = [];
    this.grow(n);
  }
  get length(): number { return this.events.length; }
  heightOf(id: string): number | undefined {
    const i = this.events.findIndex((e) => e.event_id === id);
    return i < 0 ? undefined : i;
  }
  async readRange(from: number, limit: number): Promise<ChainEvent[]> {
    this.reads.push([from, limit]);
    return this.events.slice(from, from + limit);
  }
}

const ids = (evs: ChainEvent[]): string[] => evs.map((e) => e.event_id);

test('five pages of 100 from one read of 500; the page after them reads the next window', async () => {
  const chain = new FakeChain(1200);
  const r = new SyncReadAhead(chain, 500, 2);
  for (let p = 0; p < 5; p++) {
    const page = await r.read(p * 100, 100);
    expect(ids(page)).toEqual(ids(chain.events.slice(p * 100, p * 100 + 100)));
  }
  expect(chain.reads).toEqual([[0, 500]]);
  expect(ids(await r.read(500, 100))).toEqual(ids(chain.events.slice(500, 600)));
  expect(chain.reads).toEqual([[0, 500], [500, 500]]);
});

test('the chain end: a short page, nothing past the head, and a grown chain is read again', async () => {
  const chain = new FakeChain(250);
  const r = new SyncReadAhead(chain, 500, 2);
  expect(ids(await r.read(200, 100))).toEqual(ids(chain.events.slice(200, 250)));
  expect(await r.read(250, 100)).toEqual([]);
  expect(await r.read(1000, 100)).toEqual([]);
  chain.grow(30);
  expect(ids(await r.read(200, 100))).toEqual(ids(chain.events.slice(200, 280)));
  expect(chain.reads).toEqual([[200, 500], [200, 500]]);
});

test('a reset or fork: cached events the chain no longer holds at their heights are never served', async () => {
  const chain = new FakeChain(600);
  const r = new SyncReadAhead(chain, 500, 2);
  await r.read(0, 100);
  chain.replace(600, 'b');
  const page = await r.read(100, 100);
  expect(ids(page)).toEqual(ids(chain.events.slice(100, 200)));
  expect(page[0].event_id).toBe('b100');
  expect(chain.reads).toEqual([[0, 500], [100, 500]]);
});

test('a limit above the window reads that many; a failed read is not kept', async () => {
  const chain = new FakeChain(900);
  const r = new SyncReadAhead(chain, 100, 2);
  expect((await r.read(0, 500)).length).toBe(500);
  expect(chain.reads).toEqual([[0, 500]]);
  let fail = true;
  const failing = {
    length: 900,
    heightOf: (id: string) => chain.heightOf(id),
    readRange: async (from: number, n: number): Promise<ChainEvent[]> => {
      if (fail) throw new Error('disk');
      return chain.events.slice(from, from + n);
    },
  };
  const f = new SyncReadAhead(failing, 100, 2);
  await expect(f.read(0, 10)).rejects.toThrow('disk');
  fail = false;
  expect((await f.read(0, 10)).length).toBe(10);
});
