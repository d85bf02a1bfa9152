// A non-transport Reticulum endpoint with one SINGLE destination, `infonet.node` (rns-wire.md §12 inbound checklist,
// §14 v1 scope). It owns the interfaces' shared state — path table, known destinations (keys, app_data, sending
// ratchets), duplicate filter, receipts, reassembly — and moves whole application messages: `sendMessage` chunks,
// encrypts, routes (HEADER_2 insertion beyond one hop) and retransmits until every chunk is proven; inbound chunks
// are decrypted, proven on the interface they came in on, reassembled and handed to `onMessage` exactly once.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { buildAnnounce, validateAnnounce } from './announce.js';
import { sendChunks, type ChunkSendPolicy, DEFAULT_CHUNK_SEND_POLICY } from './chunk-sender.js';
import { DEFAULT_REASSEMBLY_LIMITS, Reassembler, decodeChunk, splitMessage, type ReassemblyLimits } from './chunking.js';
import { Context, DestinationType, HeaderType, PacketType, PER_HOP_TIMEOUT_MS } from './constants.js';
import { DuplicateFilter } from './duplicate-filter.js';
import { identityHash as identityHashOf, type RnsIdentity } from './identity.js';
import type { RnsInterface, RnsInterfaceHost } from './interface.js';
import { KnownDestinations } from './known-destinations.js';
import { INFONET_NODE_NAME, INFONET_NODE_NAME_HASH, singleDestinationHash } from './names.js';
import { decodePacket, encodePacket, insertTransport, packetHash, type RnsPacket } from './packet.js';
import { buildPathRequest, parsePathRequest } from './path-request.js';
import { PathTable } from './path-table.js';
import { DEFAULT_PATH_DISCOVERY, RnsPeerLink, type PathDiscoveryPolicy } from './peer-link-actor.js';
import { buildImplicitProof } from './proof.js';
import { ReceiptTable } from './receipts.js';
import { decryptSingle, encryptSingle } from './single-crypto.js';

export const KNOWN_DESTINATIONS_FILE = 'rns/known-destinations.json';

export interface RnsEndpointOptions {
  identity: RnsIdentity;
  /** Announce app_data (the node's peer URL). */
  appData?: Buffer;
  /** Where known destinations (and so sending ratchets, §10 duty 3) persist; memory only when absent. */
  dataDir?: string;
  /** Proof wait per hop (§11: 6 s × (hops + 1)); lower in tests that drop packets on purpose. */
  perHopTimeoutMs?: number;
  /** Extra margin on every receipt timeout. */
  receiptMarginMs?: number;
  chunkPolicy?: Partial<ChunkSendPolicy>;
  reassembly?: Partial<ReassemblyLimits>;
  pathDiscovery?: Partial<PathDiscoveryPolicy>;
  now?: () => number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export class RnsSendError extends Error {
  constructor(readonly kind: 'no_path' | 'not_delivered' | 'too_large' | 'closed', message: string) {
    super(message);
  }
}

export interface RnsCounters {
  rxPackets: number;
  txPackets: number;
  duplicatesDropped: number;
  announcesAccepted: number;
  announcesIgnored: number;
  undecryptable: number;
  proofsSent: number;
  proofsMatched: number;
  chunksSent: number;
  chunkRetransmissions: number;
  messagesDelivered: number;
  pathRequestsSent: number;
  pathRequestsAnswered: number;
}

export class RnsEndpoint implements RnsInterfaceHost {
  readonly identity: RnsIdentity;
  readonly destinationHash: Buffer;
  readonly destinationHex: string;
  readonly paths = new PathTable();
  readonly known: KnownDestinations;
  readonly counters: RnsCounters = { rxPackets: 0, txPackets: 0, duplicatesDropped: 0, announcesAccepted: 0, announcesIgnored: 0, undecryptable: 0, proofsSent: 0, proofsMatched: 0, chunksSent: 0, chunkRetransmissions: 0, messagesDelivered: 0, pathRequestsSent: 0, pathRequestsAnswered: 0 };
  /** Called once per complete inbound message. */
  onMessage: (message: Buffer) => void = () => undefined;

  private appData: Buffer;
  private readonly interfaces = new Map<string, RnsInterface>();
  private readonly dedup = new DuplicateFilter();
  private readonly pathRequestTags = new DuplicateFilter(1024);
  private readonly receipts = new ReceiptTable();
  private readonly reassembler: Reassembler;
  private readonly links = new Map<string, RnsPeerLink>();
  private readonly chunkPolicy: ChunkSendPolicy;
  private readonly pathPolicy: PathDiscoveryPolicy;
  private readonly perHopMs: number;
  private readonly marginMs: number;
  private readonly now: () => number;
  private readonly log: (msg: string, fields?: Record<string, unknown>) => void;
  private closed = false;
  private persistTimer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: RnsEndpointOptions) {
    this.identity = opts.identity;
    this.destinationHash = singleDestinationHash(INFONET_NODE_NAME, opts.identity.hash);
    this.destinationHex = this.destinationHash.toString('hex');
    this.appData = opts.appData ?? Buffer.alloc(0);
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? (() => undefined);
    this.perHopMs = opts.perHopTimeoutMs ?? PER_HOP_TIMEOUT_MS;
    this.marginMs = opts.receiptMarginMs ?? 2_000;
    this.chunkPolicy = { ...DEFAULT_CHUNK_SEND_POLICY, ...opts.chunkPolicy };
    this.pathPolicy = { ...DEFAULT_PATH_DISCOVERY, ...opts.pathDiscovery };
    this.reassembler = new Reassembler({ ...DEFAULT_REASSEMBLY_LIMITS, ...opts.reassembly });
    this.known = this.loadKnown();
  }

  get peerUrl(): string {
    return `rns://${this.destinationHex}`;
  }

  // ------------------------------------------------------------------------------------ interfaces

  interfaceUp(iface: RnsInterface): void {
    if (this.closed) return;
    this.interfaces.set(iface.id, iface);
    // §2: announce again after every (re)connect, on that interface only (no bursts elsewhere).
    this.announceOn(iface, Context.NONE);
  }

  interfaceDown(iface: RnsInterface): void {
    this.interfaces.delete(iface.id);
    this.paths.expireInterface(iface.id, this.now());
    for (const [hex, link] of this.links) if (!this.paths.lookup(Buffer.from(hex, 'hex'), this.now())) link.pathLost();
  }

  get interfaceCount(): number {
    return [...this.interfaces.values()].filter((i) => i.up).length;
  }

  /** Announce on every live interface (start-up, periodic, app_data change). */
  announce(): void {
    for (const iface of this.interfaces.values()) this.announceOn(iface, Context.NONE);
  }

  setAppData(appData: Buffer): void {
    if (appData.equals(this.appData)) return;
    this.appData = appData;
    this.announce();
  }

  private announceOn(iface: RnsInterface, context: number): void {
    const p = buildAnnounce({ identity: this.identity, name: INFONET_NODE_NAME, appData: this.appData, context, emittedAtS: this.now() / 1000 });
    if (iface.send(p.raw)) this.counters.txPackets++;
  }

  // --------------------------------------------------------------------------------------- inbound

  /** §12 inbound checklist for a non-transport endpoint. */
  inbound(iface: RnsInterface, raw: Buffer): void {
    if (this.closed) return;
    this.counters.rxPackets++;
    const p = decodePacket(raw);
    if (!p) return;
    p.hops += 1;
    const hash = packetHash(raw);
    if (p.packetType !== PacketType.ANNOUNCE && !this.dedup.admit(hash)) {
      this.counters.duplicatesDropped++;
      return;
    }
    switch (p.packetType) {
      case PacketType.ANNOUNCE:
        return this.onAnnounce(iface, p);
      case PacketType.PROOF:
        if (this.receipts.onProof(p)) this.counters.proofsMatched++;
        return;
      case PacketType.DATA:
        if (p.destinationType === DestinationType.SINGLE && p.headerType === HeaderType.HEADER_1 && p.destinationHash.equals(this.destinationHash)) return this.onData(iface, p, hash);
        if (p.destinationType === DestinationType.PLAIN && p.hops <= 1) return this.onPathRequest(iface, p);
        return;
      default:
        return; // LINKREQUEST, LINK, GROUP: out of v1 scope
    }
  }

  private onAnnounce(iface: RnsInterface, p: RnsPacket): void {
    const a = validateAnnounce(p);
    if (typeof a === 'string') {
      this.counters.announcesIgnored++;
      return;
    }
    // Transport nodes echo our own announce back; other apps' destinations are not ours to track.
    if (a.destinationHash.equals(this.destinationHash) || !a.nameHash.equals(INFONET_NODE_NAME_HASH)) return;
    if (!this.known.keyMatches(a.destinationHash, a.publicKey)) {
      this.counters.announcesIgnored++;
      this.log('rns announce with a different key for a known destination refused', { destination: a.destinationHash.toString('hex') });
      return;
    }
    const decision = this.paths.consider(a, { hops: p.hops, transportId: p.headerType === HeaderType.HEADER_2 ? p.transportId : null, interfaceId: iface.id }, this.now());
    if (decision !== 'accepted') return;
    this.counters.announcesAccepted++;
    this.known.remember(a.destinationHash, a.publicKey, a.appData, a.ratchetPublic, this.now());
    this.schedulePersist();
    this.links.get(a.destinationHash.toString('hex'))?.pathLearnt();
  }

  private onData(iface: RnsInterface, p: RnsPacket, hash: Buffer): void {
    // v1 has no receive-side ratchets (§10): our identity key is the only candidate.
    const plain = decryptSingle(p.data, [this.identity.encryptionKey], this.identity.hash);
    if (!plain) {
      this.counters.undecryptable++;
      return;
    }
    // §11: prove every packet we decrypted (duplicate chunks too), on the interface it arrived on.
    if (iface.send(buildImplicitProof(this.identity, hash).raw)) {
      this.counters.proofsSent++;
      this.counters.txPackets++;
    }
    const chunk = decodeChunk(plain);
    if (!chunk) return;
    const out = this.reassembler.push(chunk, this.now());
    if (out.message) {
      this.counters.messagesDelivered++;
      try {
        this.onMessage(out.message);
      } catch (e) {
        this.log('rns message handler failed', { error: (e as Error).message });
      }
    }
  }

  private onPathRequest(iface: RnsInterface, p: RnsPacket): void {
    const req = parsePathRequest(p);
    if (!req || !req.destinationHash.equals(this.destinationHash)) return;
    if (!this.pathRequestTags.admit(Buffer.concat([req.destinationHash, req.tag]))) return;
    this.counters.pathRequestsAnswered++;
    this.announceOn(iface, Context.PATH_RESPONSE);
  }

  // -------------------------------------------------------------------------------------- outbound

  /** The link actor for one destination (created on first use). */
  link(destinationHex: string): RnsPeerLink {
    let l = this.links.get(destinationHex);
    if (!l) {
      const dest = Buffer.from(destinationHex, 'hex');
      l = new RnsPeerLink(destinationHex, this.pathPolicy, () => this.sendPathRequest(dest), this.now);
      this.links.set(destinationHex, l);
      if (this.paths.lookup(dest, this.now()) && this.known.get(dest)) l.pathLearnt();
    }
    return l;
  }

  private sendPathRequest(dest: Buffer): void {
    // A fresh tag per request (§8); it reaches only our direct neighbours.
    const raw = buildPathRequest(dest).raw;
    for (const iface of this.interfaces.values()) if (iface.send(raw)) {
      this.counters.pathRequestsSent++;
      this.counters.txPackets++;
    }
  }

  /** Deliver one application message to `destinationHex`; resolves when every chunk was proven. */
  async sendMessage(destinationHex: string, message: Uint8Array): Promise<void> {
    if (this.closed) throw new RnsSendError('closed', 'rns endpoint closed');
    const dest = Buffer.from(destinationHex, 'hex');
    const link = this.link(destinationHex);
    if (!this.routeFor(dest) && !(await link.waitForPath())) throw new RnsSendError('no_path', `no path to ${destinationHex}`);
    let chunks: Buffer[];
    try {
      chunks = splitMessage(message, this.reassemblyLimit());
    } catch (e) {
      throw new RnsSendError('too_large', (e as Error).message);
    }
    try {
      const { transmissions } = await sendChunks(
        chunks,
        async (chunk) => {
          const route = this.routeFor(dest);
          if (!route) throw new RnsSendError('no_path', `no path to ${destinationHex}`);
          const target = this.known.encryptionTarget(dest, this.now())!;
          const idHash = route.identityHash;
          const p = encodePacket({ destinationType: DestinationType.SINGLE, packetType: PacketType.DATA, destinationHash: dest, context: Context.NONE, data: encryptSingle(chunk, target, idHash) });
          // §12: beyond one hop, insert into transport toward the announced next hop.
          const raw = route.hops > 1 ? insertTransport(p.raw, route.nextHop) : p.raw;
          const hash = packetHash(raw);
          const receipt = this.receipts.track(hash, route.publicKey, this.perHopMs * (route.hops + 1) + this.marginMs);
          if (!route.iface.send(raw)) {
            throw new RnsSendError('no_path', `interface ${route.iface.id} is down`);
          }
          this.counters.txPackets++;
          this.counters.chunksSent++;
          return receipt;
        },
        this.chunkPolicy,
        () => this.closed,
      );
      this.counters.chunkRetransmissions += transmissions - chunks.length;
      link.sendSucceeded();
    } catch (e) {
      link.sendFailed();
      if (e instanceof RnsSendError) throw e;
      const cause = (e as { cause?: unknown }).cause;
      if (cause instanceof RnsSendError) throw cause;
      throw new RnsSendError('not_delivered', (e as Error).message);
    }
  }

  private routeFor(dest: Buffer): { hops: number; nextHop: Buffer; iface: RnsInterface; publicKey: Buffer; identityHash: Buffer } | null {
    const path = this.paths.lookup(dest, this.now());
    const k = this.known.get(dest);
    if (!path || !k) return null;
    const iface = this.interfaces.get(path.interfaceId);
    if (!iface || !iface.up) return null;
    return { hops: path.hops, nextHop: path.nextHop, iface, publicKey: k.publicKey, identityHash: identityHashOf(k.publicKey) };
  }

  private reassemblyLimit(): number {
    return this.opts.reassembly?.maxMessageBytes ?? DEFAULT_REASSEMBLY_LIMITS.maxMessageBytes;
  }

  // ---------------------------------------------------------------------------------------- status

  status(): { destinationHash: string; peerUrl: string; paths: { destination: string; hops: number; nextHop: string; interface: string; expiresAt: number }[]; links: { destination: string; state: string }[]; counters: RnsCounters } {
    const now = this.now();
    return {
      destinationHash: this.destinationHex,
      peerUrl: this.peerUrl,
      paths: this.paths.live(now).map((p) => ({ destination: p.destinationHash.toString('hex'), hops: p.hops, nextHop: p.nextHop.toString('hex'), interface: p.interfaceId, expiresAt: p.expiresAtMs })),
      links: [...this.links.values()].map((l) => ({ destination: l.destinationHex, state: l.state })),
      counters: { ...this.counters },
    };
  }

  /** Peer URLs learnt from announces: destination → app_data text. */
  knownPeers(): Map<string, string> {
    const out = new Map<string, string>();
    for (const p of this.paths.live(this.now())) {
      const k = this.known.get(p.destinationHash);
      out.set(p.destinationHash.toString('hex'), k?.appData ? k.appData.toString('utf8') : '');
    }
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.receipts.cancelAll();
    for (const l of this.links.values()) l.stop();
    if (this.persistTimer) {
      clearTimeout(this.persistTimer);
      this.persistTimer = null;
      this.persistKnown();
    }
  }

  // ----------------------------------------------------------------------------------- persistence

  private loadKnown(): KnownDestinations {
    if (!this.opts.dataDir) return new KnownDestinations();
    try {
      return KnownDestinations.fromJSON(JSON.parse(readFileSync(join(this.opts.dataDir, KNOWN_DESTINATIONS_FILE), 'utf8')));
    } catch {
      return new KnownDestinations();
    }
  }

  private schedulePersist(): void {
    if (!this.opts.dataDir || this.persistTimer) return;
    this.persistTimer = setTimeout(() => {
      this.persistTimer = null;
      this.persistKnown();
    }, 1_000);
    this.persistTimer.unref();
  }

  private persistKnown(): void {
    if (!this.opts.dataDir) return;
    const file = join(this.opts.dataDir, KNOWN_DESTINATIONS_FILE);
    try {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      writeFileSync(`${file}.tmp`, JSON.stringify(this.known), { mode: 0o600 });
      renameSync(`${file}.tmp`, file);
    } catch (e) {
      this.log('rns known destinations not persisted', { error: (e as Error).message });
    }
  }
}
