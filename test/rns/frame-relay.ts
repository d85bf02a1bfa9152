// A tiny HDLC-aware TCP relay for fault tests: sits between two RNS TCP interfaces on 127.0.0.1 and, per frame,
// passes, drops or duplicates it as the test's policy says. Real sockets both ways; nothing is simulated.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { HdlcDecoder, hdlcFrame } from '../../transports/rns/hdlc.js';
import { decodePacket, type RnsPacket } from '../../transports/rns/packet.js';

export type FrameFate = 'pass' | 'drop' | 'dup';
export type FramePolicy = (direction: 'up' | 'down', packet: RnsPacket) => FrameFate;

export class FrameRelay {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  port = 0;
  readonly stats = { passed: 0, dropped: 0, duplicated: 0 };

  constructor(private readonly upstream: { host: string; port: number }, public policy: FramePolicy = () => 'pass') {}

  async start(): Promise<number> {
    this.server = createServer((down) => {
      const up = createConnection(this.upstream);
      this.sockets.add(down).add(up);
      this.pipe(down, up, 'up');
      this.pipe(up, down, 'down');
      const end = (): void => {
        down.destroy();
        up.destroy();
        this.sockets.delete(down);
        this.sockets.delete(up);
      };
      down.on('close', end).on('error', end);
      up.on('close', end).on('error', end);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as { port: number }).port;
    return this.port;
  }

  private pipe(from: Socket, to: Socket, direction: 'up' | 'down'): void {
    const d = new HdlcDecoder();
    from.on('data', (chunk: Buffer) => {
      for (const raw of d.push(chunk)) {
        const p = decodePacket(raw);
        const fate = p ? this.policy(direction, p) : 'pass';
        if (fate === 'drop') {
          this.stats.dropped++;
          continue;
        }
        const frame = hdlcFrame(raw);
        to.write(frame);
        this.stats.passed++;
        if (fate === 'dup') {
          to.write(frame);
          this.stats.duplicated++;
        }
      }
    });
  }

  /** Cut every relayed connection (the link goes down); keeps listening so clients can reconnect. */
  cut(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  async stop(): Promise<void> {
    this.cut();
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
