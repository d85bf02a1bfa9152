// A minimal Reticulum TRANSPORT node for tests, written from rns-wire.md §8 and §12 ("What the transport node does"):
// it re-broadcasts announces as HEADER_2 with its own transport id, forwards HEADER_2 DATA addressed to it (rewrite
// the transport id while more than one hop remains, strip to HEADER_1 for the last hop), routes proofs back through a
// reverse table keyed by the truncated packet hash, and answers path requests from its announce cache. It lets the
// tests exercise HEADER_2 insertion and 1- and 2-hop paths with real TCP sockets; the reference daemon is the real
// interop check (docs/rns.md).
import { validateAnnounce } from '../../transports/rns/announce.js';
import { Context, DestinationType, HeaderType, PacketType } from '../../transports/rns/constants.js';
import { DuplicateFilter } from '../../transports/rns/duplicate-filter.js';
import { RnsIdentity } from '../../transports/rns/identity.js';
import type { RnsInterface, RnsInterfaceHost } from '../../transports/rns/interface.js';
import { decodePacket, packetHash, type RnsPacket } from '../../transports/rns/packet.js';
import { parsePathRequest } from '../../transports/rns/path-request.js';
import { TcpClientInterface, TcpServerInterface } from '../../transports/rns/tcp-interface.js';

interface Route {
  nextHop: Buffer;
  hops: number;
  iface: RnsInterface;
  announce: RnsPacket;
}

export class MiniTransport implements RnsInterfaceHost {
  readonly identity = RnsIdentity.generate();
  readonly id = this.identity.hash;
  readonly server: TcpServerInterface;
  readonly clients: TcpClientInterface[] = [];
  private readonly ifaces = new Map<string, RnsInterface>();
  private readonly routes = new Map<string, Route>();
  private readonly reverse = new Map<string, RnsInterface>();
  private readonly seen = new DuplicateFilter();
  /** Every packet as it arrived (for assertions on what endpoints put on the wire). */
  readonly heard: RnsPacket[] = [];
  forwarded = 0;

  constructor(readonly name: string) {
    this.server = new TcpServerInterface(`${name}-server`, this, { host: '127.0.0.1', port: 0 });
  }

  async start(): Promise<{ host: string; port: number }> {
    return this.server.start();
  }

  connect(to: { host: string; port: number }): TcpClientInterface {
    const c = new TcpClientInterface(`${this.name}-client-${this.clients.length}`, this, to, { firstDelayMs: 50, maxDelayMs: 200 });
    this.clients.push(c);
    return c;
  }

  interfaceUp(iface: RnsInterface): void {
    this.ifaces.set(iface.id, iface);
  }

  interfaceDown(iface: RnsInterface): void {
    this.ifaces.delete(iface.id);
  }

  routeTo(destHex: string): Route | undefined {
    return this.routes.get(destHex);
  }

  inbound(iface: RnsInterface, raw: Buffer): void {
    const p = decodePacket(raw);
    if (!p) return;
    this.heard.push(p);
    p.hops += 1;
    const hash = packetHash(raw);
    if (p.packetType === PacketType.ANNOUNCE) return this.onAnnounce(iface, p, raw);
    if (!this.seen.admit(hash)) return;
    if (p.packetType === PacketType.PROOF) {
      const back = this.reverse.get(p.destinationHash.toString('hex'));
      if (back) this.send(back, Buffer.concat([Buffer.from([raw[0], p.hops]), raw.subarray(2)]));
      return;
    }
    if (p.packetType !== PacketType.DATA) return;
    if (p.destinationType === DestinationType.PLAIN && p.hops <= 1) return this.onPathRequest(iface, p);
    if (p.headerType !== HeaderType.HEADER_2 || !p.transportId!.equals(this.id)) return; // not for us to forward
    const route = this.routes.get(p.destinationHash.toString('hex'));
    if (!route) return;
    this.reverse.set(hash.subarray(0, 16).toString('hex'), iface);
    const rest = raw.subarray(18);
    const out = route.hops > 1 ? Buffer.concat([Buffer.from([raw[0], p.hops]), route.nextHop, rest]) : Buffer.concat([Buffer.from([raw[0] & 0x0f, p.hops]), rest]);
    this.forwarded++;
    this.send(route.iface, out);
  }

  private onAnnounce(iface: RnsInterface, p: RnsPacket, raw: Buffer): void {
    const a = validateAnnounce(p);
    if (typeof a === 'string') return;
    const key = a.destinationHash.toString('hex');
    const old = this.routes.get(key);
    if (old && old.announce.data.equals(p.data)) return; // same announce over another way: no re-broadcast
    this.routes.set(key, { nextHop: p.headerType === HeaderType.HEADER_2 ? p.transportId! : a.destinationHash, hops: p.hops, iface, announce: p });
    const body = raw.subarray(p.headerType === HeaderType.HEADER_2 ? 18 : 2);
    const rebroadcast = Buffer.concat([Buffer.from([0x40 | 0x10 | (raw[0] & 0x2f), p.hops]), this.id, body]);
    for (const i of this.ifaces.values()) this.send(i, rebroadcast); // also back to the sender, like the reference
  }

  private onPathRequest(iface: RnsInterface, p: RnsPacket): void {
    const req = parsePathRequest(p);
    if (!req) return;
    const route = this.routes.get(req.destinationHash.toString('hex'));
    if (!route || route.iface === iface) return;
    const a = route.announce;
    const body = Buffer.concat([a.destinationHash, Buffer.from([Context.PATH_RESPONSE]), a.data]);
    this.send(iface, Buffer.concat([Buffer.from([0x40 | 0x10 | (a.raw[0] & 0x2f), route.hops]), this.id, body]));
  }

  private send(iface: RnsInterface, raw: Buffer): void {
    iface.send(raw);
  }

  async stop(): Promise<void> {
    for (const c of this.clients) c.stop();
    await this.server.stop();
  }
}
