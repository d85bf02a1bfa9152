// A fault-injecting TCP proxy for transport tests (issue 9; the way hypercore tests replication): it sits between a
// client and a real server on 127.0.0.1 and can drop, delay, duplicate or cut the byte stream, per direction, while
// counting what passed. Tests change the faults at run time and wait on its counters/events — never on sleeps.
//
//   const proxy = await startFaultProxy(targetPort);
//   proxy.set({ cutUpAfterBytes: 100 });   // every new connection is cut once 100 client→server bytes went through
//   await waitUntil(() => proxy.stats.cuts >= 3, …);
//   proxy.set({});                          // healthy again
import { EventEmitter } from 'node:events';
import net, { type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface Faults {
  /** Refuse new connections (accept, then reset at once): the peer looks down. */
  refuse?: boolean;
  /** Swallow client→server bytes (a black hole: the request never arrives, the client waits for its timeout). */
  dropUp?: boolean;
  /** Swallow server→client bytes (the request is processed, the answer is lost). */
  dropDown?: boolean;
  /** Hold each chunk this long before forwarding (both directions, order kept). */
  delayMs?: number;
  /** Forward every client→server chunk twice (a duplicated request on the wire). */
  duplicateUp?: boolean;
  /** Cut a connection (both sides destroyed) once this many client→server bytes passed on it. */
  cutUpAfterBytes?: number;
  /** Cut a connection once this many server→client bytes passed on it (answer cut mid-way). */
  cutDownAfterBytes?: number;
}

export interface FaultStats {
  connections: number;
  cuts: number;
  refused: number;
  bytesUp: number;
  bytesDown: number;
  droppedUp: number;
  droppedDown: number;
  duplicatedUp: number;
}

export interface FaultProxy {
  port: number;
  url: string;
  readonly stats: FaultStats;
  /** 'cut', 'connection', 'refused' events carry the connection number. */
  readonly events: EventEmitter;
  /** Replaces the faults for new chunks and new connections. */
  set(faults: Faults): void;
  /** Cuts every open connection now. */
  cutAll(): void;
  close(): Promise<void>;
}

export async function startFaultProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<FaultProxy> {
  let faults: Faults = {};
  const stats: FaultStats = { connections: 0, cuts: 0, refused: 0, bytesUp: 0, bytesDown: 0, droppedUp: 0, droppedDown: 0, duplicatedUp: 0 };
  const events = new EventEmitter();
  const open = new Set<{ client: Socket; server: Socket }>();

  /** Forwards `from` → `to` with the current faults; `up` = client→server. Chunks keep their order under delay. */
  const pipe = (from: Socket, to: Socket, up: boolean, cut: () => void): void => {
    let passed = 0;
    let chain: Promise<void> = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      const f = faults;
      if (up ? f.dropUp : f.dropDown) {
        if (up) stats.droppedUp += chunk.length;
        else stats.droppedDown += chunk.length;
        return;
      }
      const limit = up ? f.cutUpAfterBytes : f.cutDownAfterBytes;
      let part = chunk;
      let cutNow = false;
      if (limit !== undefined && passed + chunk.length >= limit) {
        part = chunk.subarray(0, Math.max(0, limit - passed));
        cutNow = true;
      }
      passed += part.length;
      const forward = (): void => {
        if (to.destroyed) return;
        if (part.length) to.write(part);
        if (up && f.duplicateUp && part.length) {
          to.write(part);
          stats.duplicatedUp += part.length;
        }
        if (up) stats.bytesUp += part.length;
        else stats.bytesDown += part.length;
        if (cutNow) cut();
      };
      if (f.delayMs) {
        const ms = f.delayMs;
        chain = chain.then(() => new Promise<void>((r) => setTimeout(() => { forward(); r(); }, ms)));
      } else {
        forward();
      }
    });
  };

  const server = net.createServer((client) => {
    const n = ++stats.connections;
    client.on('error', () => undefined);
    if (faults.refuse) {
      stats.refused++;
      events.emit('refused', n);
      client.resetAndDestroy();
      return;
    }
    client.pause();
    const upstream = net.connect(targetPort, targetHost);
    upstream.on('error', () => client.destroy());
    const pair = { client, server: upstream };
    open.add(pair);
    let cutDone = false;
    const cut = (): void => {
      if (cutDone) return;
      cutDone = true;
      stats.cuts++;
      events.emit('cut', n);
      client.destroy();
      upstream.destroy();
    };
    (pair as { cut?: () => void }).cut = cut;
    upstream.on('connect', () => {
      client.resume();
      events.emit('connection', n);
    });
    pipe(client, upstream, true, cut);
    pipe(upstream, client, false, cut);
    const done = (): void => {
      open.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', done);
    upstream.on('close', done);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    stats,
    events,
    set(f) {
      faults = { ...f };
    },
    cutAll() {
      for (const p of [...open]) (p as { cut?: () => void }).cut?.();
    },
    close: () => new Promise<void>((r) => {
      for (const p of [...open]) {
        p.client.destroy();
        p.server.destroy();
      }
      server.close(() => r());
    }),
  };
}
