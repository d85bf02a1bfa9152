// Reticulum TCP interfaces (rns-wire.md §2): HDLC frames over a plain TCP stream, TCP_NODELAY and keepalive like
// the reference client. A client interface reconnects with backoff (the reference: every 5 s) and the endpoint
// re-announces on every (re)connect; a server interface turns each accepted socket into its own interface so two
// infonet nodes can link directly. One XState actor per interface owns its connection state and timing.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { assign, createActor, setup, type Actor } from 'xstate';
import { HdlcDecoder, hdlcFrame } from './hdlc.js';
import type { RnsInterface, RnsInterfaceHost, RnsInterfaceStatus } from './interface.js';
import { unrefClock } from '../../protocol/unref-clock.js';

export interface ReconnectPolicy {
  firstDelayMs: number;
  maxDelayMs: number;
}

// The reference client retries every 5 s (§2); a little backoff for long outages, capped low so a restarted peer is
// back within seconds.
export const DEFAULT_RECONNECT: ReconnectPolicy = { firstDelayMs: 5_000, maxDelayMs: 15_000 };

const KEEPALIVE_MS = 10_000;

type IfaceEvent = { type: 'CONNECTED' } | { type: 'CLOSED' } | { type: 'STOP' };

/** connecting → connected → (closed) waiting → connecting …; `accepted` sockets start connected and end closed. */
export function createInterfaceMachine(policy: ReconnectPolicy, io: { connect(): void; teardown(): void }) {
  return setup({
    types: {} as { context: { failures: number; reconnects: boolean }; events: IfaceEvent; input: { reconnects: boolean } },
    delays: { reconnectDelay: ({ context }) => Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** Math.min(Math.max(context.failures - 1, 0), 10)) },
    guards: { reconnects: ({ context }) => context.reconnects },
    actions: { connect: () => io.connect(), teardown: () => io.teardown() },
  }).createMachine({
    id: 'rnsInterface',
    context: ({ input }) => ({ failures: 0, reconnects: input.reconnects }),
    initial: 'start',
    on: { STOP: '.stopped' },
    states: {
      start: { always: [{ guard: 'reconnects', target: 'connecting' }, { target: 'connected' }] },
      connecting: {
        entry: 'connect',
        on: { CONNECTED: 'connected', CLOSED: { target: 'waiting', actions: assign({ failures: ({ context }) => context.failures + 1 }) } },
      },
      connected: {
        entry: assign({ failures: 0 }),
        on: { CLOSED: [{ guard: 'reconnects', target: 'waiting', actions: assign({ failures: 1 }) }, { target: 'closed' }] },
      },
      waiting: { after: { reconnectDelay: 'connecting' } },
      closed: { type: 'final' },
      stopped: { type: 'final', entry: 'teardown' },
    },
  });
}

abstract class TcpInterfaceBase implements RnsInterface {
  protected socket: Socket | null = null;
  protected actor!: Actor<ReturnType<typeof createInterfaceMachine>>;
  rxPackets = 0;
  txPackets = 0;

  constructor(readonly id: string, protected readonly host: RnsInterfaceHost) {}

  get up(): boolean {
    return this.socket !== null && this.state === 'connected';
  }

  get state(): string {
    return String(this.actor.getSnapshot().value);
  }

  send(raw: Buffer): boolean {
    const s = this.socket;
    if (!s || !this.up || s.destroyed) return false;
    this.txPackets++;
    s.write(hdlcFrame(raw));
    return true;
  }

  /** Wire a connected socket: framing in, up/down reports out. */
  protected adopt(socket: Socket): void {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, KEEPALIVE_MS);
    const decoder = new HdlcDecoder();
    socket.on('data', (chunk: Buffer) => {
      for (const raw of decoder.push(chunk)) {
        this.rxPackets++;
        this.host.inbound(this, raw);
      }
    });
    let closed = false;
    const onClose = (): void => {
      if (closed) return;
      closed = true;
      const wasUp = this.up;
      this.socket = null;
      this.actor.send({ type: 'CLOSED' });
      if (wasUp) this.host.interfaceDown(this);
    };
    socket.on('close', onClose);
    socket.on('error', () => socket.destroy());
  }

  stop(): void {
    this.actor.send({ type: 'STOP' });
  }

  protected teardown(): void {
    const s = this.socket;
    this.socket = null;
    if (s) {
      s.removeAllListeners('close');
      s.destroy();
      this.host.interfaceDown(this);
    }
  }
}

/** Outbound TCP client interface with reconnect (MESH_RNS_TCP_CONNECT). */
export class TcpClientInterface extends TcpInterfaceBase {
  constructor(id: string, host: RnsInterfaceHost, readonly target: { host: string; port: number }, policy: ReconnectPolicy = DEFAULT_RECONNECT) {
    super(id, host);
    this.actor = createActor(
      createInterfaceMachine(policy, {
        connect: () => this.connect(),
        teardown: () => {
          this.pending?.destroy();
          this.pending = null;
          this.teardown();
        },
      }),
      { input: { reconnects: true }, clock: unrefClock as never },
    );
    this.actor.start();
  }

  private pending: Socket | null = null;

  private connect(): void {
    const s = createConnection({ host: this.target.host, port: this.target.port });
    this.pending = s;
    let connected = false;
    s.once('connect', () => {
      this.pending = null;
      if (this.state !== 'connecting') {
        s.destroy();
        return;
      }
      connected = true;
      this.adopt(s);
      this.actor.send({ type: 'CONNECTED' });
      this.host.interfaceUp(this);
    });
    s.once('error', () => {
      if (!connected) {
        this.pending = null;
        s.destroy();
        this.actor.send({ type: 'CLOSED' });
      }
    });
  }

  status(): RnsInterfaceStatus {
    return { id: this.id, kind: 'tcp-client', state: this.state, target: `${this.target.host}:${this.target.port}`, rxPackets: this.rxPackets, txPackets: this.txPackets };
  }
}

/** One accepted connection of a TCP server interface; it ends when the socket closes. */
export class TcpAcceptedInterface extends TcpInterfaceBase {
  constructor(id: string, host: RnsInterfaceHost, socket: Socket, private readonly remote: string) {
    super(id, host);
    this.actor = createActor(createInterfaceMachine(DEFAULT_RECONNECT, { connect: () => undefined, teardown: () => this.teardown() }), { input: { reconnects: false }, clock: unrefClock as never });
    this.actor.start();
    this.adopt(socket);
    host.interfaceUp(this);
  }

  status(): RnsInterfaceStatus {
    return { id: this.id, kind: 'tcp-accepted', state: this.state, target: this.remote, rxPackets: this.rxPackets, txPackets: this.txPackets };
  }
}

/** TCP server interface (MESH_RNS_TCP_LISTEN); each accepted socket becomes an interface. Bounded clients. */
export class TcpServerInterface {
  private server: Server | null = null;
  private readonly clients = new Set<TcpAcceptedInterface>();
  private seq = 0;
  address: { host: string; port: number } | null = null;

  constructor(readonly id: string, private readonly host: RnsInterfaceHost, private readonly listen: { host: string; port: number }, private readonly maxClients = 64) {}

  async start(): Promise<{ host: string; port: number }> {
    const server = createServer((socket) => {
      if (this.clients.size >= this.maxClients) {
        socket.destroy();
        return;
      }
      const remote = `${socket.remoteAddress}:${socket.remotePort}`;
      const iface = new TcpAcceptedInterface(`${this.id}/${++this.seq}`, this.host, socket, remote);
      this.clients.add(iface);
      socket.once('close', () => this.clients.delete(iface));
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listen.port, this.listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const a = server.address();
    this.address = typeof a === 'object' && a ? { host: this.listen.host, port: a.port } : this.listen;
    return this.address;
  }

  /** Drop every accepted connection (tests use it to cut a link) but keep listening. */
  dropClients(): void {
    for (const c of [...this.clients]) c.stop();
    this.clients.clear();
  }

  async stop(): Promise<void> {
    this.dropClients();
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  status(): RnsInterfaceStatus[] {
    return [
      { id: this.id, kind: 'tcp-server', state: this.server ? 'listening' : 'stopped', target: this.address ? `${this.address.host}:${this.address.port}` : '', rxPackets: 0, txPackets: 0 },
      ...[...this.clients].map((c) => c.status()),
    ];
  }
}
