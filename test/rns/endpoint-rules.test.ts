// Endpoint rules on golden packets, fed through an in-process interface (an RnsInterface that records what the
// endpoint writes): sending ratchets stored from announce_with_ratchet, persisted across a restart and used as the
// encryption target (§10); the path_request vector answered with a PATH_RESPONSE announce (§8); data_single decrypted
// and proven with exactly proof_implicit (§11); the §12 inbound drops.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildAnnounce, validateAnnounce, type ValidAnnounce } from '../../transports/rns/announce.js';
import { Context, PacketType } from '../../transports/rns/constants.js';
import { RnsEndpoint } from '../../transports/rns/endpoint.js';
import { RnsIdentity, x25519PrivateKey } from '../../transports/rns/identity.js';
import type { RnsInterface } from '../../transports/rns/interface.js';
import { decodePacket, insertTransport } from '../../transports/rns/packet.js';
import { decryptSingle } from '../../transports/rns/single-crypto.js';
import { decodeChunk } from '../../transports/rns/chunking.js';
import { hex, ID1, ID2, V } from './golden.js';

class RecordingInterface implements RnsInterface {
  readonly sent: Buffer[] = [];
  up = true;
  constructor(readonly id = 'mem0') {}
  send(raw: Buffer): boolean {
    this.sent.push(raw);
    return true;
  }
}

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'rns-ep-'));
  dirs.push(d);
  return d;
};

test('a ratchet announced by the peer is stored, survives a restart, and is the encryption target (§10)', async () => {
  const dir = tmp();
  const ep = new RnsEndpoint({ identity: RnsIdentity.fromPrivateKey(hex(ID1.private_key)), dataDir: dir, perHopTimeoutMs: 100, receiptMarginMs: 0, chunkPolicy: { maxTries: 1 } });
  const iface = new RecordingInterface();
  ep.interfaceUp(iface);
  ep.inbound(iface, hex(V.announce_with_ratchet.raw));
  const dest = V.announce_with_ratchet.header.destination_hash;
  expect(ep.knownPeers().get(dest)).toBe('infonet golden announce 2 (with ratchet)');
  ep.close(); // flushes the known-destinations file

  const again = new RnsEndpoint({ identity: RnsIdentity.fromPrivateKey(hex(ID1.private_key)), dataDir: dir, perHopTimeoutMs: 100, receiptMarginMs: 0, chunkPolicy: { maxTries: 1 } });
  const iface2 = new RecordingInterface();
  again.interfaceUp(iface2);
  // The path is learnt again from a path response (the ratchet was already known from disk).
  again.inbound(iface2, hex(V.path_response.raw));
  const sending = again.sendMessage(dest, Buffer.from('to the ratchet'));
  const data = iface2.sent.map((r) => decodePacket(r)!).find((p) => p.packetType === PacketType.DATA && p.destinationHash.toString('hex') === dest)!;
  const id2 = RnsIdentity.fromPrivateKey(hex(ID2.private_key));
  const ratchet = x25519PrivateKey(hex(V.announce_with_ratchet.ratchet_private));
  expect(decryptSingle(data.data, [id2.encryptionKey], id2.hash)).toBeNull(); // not to the identity key
  const plain = decryptSingle(data.data, [ratchet], id2.hash)!;
  expect(decodeChunk(plain)!.payload.toString()).toBe('to the ratchet');
  await expect(sending).rejects.toMatchObject({ kind: 'not_delivered' }); // nobody proves it here
  again.close();
});

test('the path_request vector is answered with a PATH_RESPONSE announce for our destination; repeats are ignored', () => {
  const ep = new RnsEndpoint({ identity: RnsIdentity.fromPrivateKey(hex(ID2.private_key)) });
  const iface = new RecordingInterface();
  ep.interfaceUp(iface);
  const before = iface.sent.length; // the announce on interface up
  ep.inbound(iface, hex(V.path_request.raw));
  expect(iface.sent.length).toBe(before + 1);
  const answer = decodePacket(iface.sent[before])!;
  expect(answer.packetType).toBe(PacketType.ANNOUNCE);
  expect(answer.context).toBe(Context.PATH_RESPONSE);
  expect((validateAnnounce(answer) as ValidAnnounce).destinationHash.toString('hex')).toBe(V.path_request.requested_destination);
  ep.inbound(iface, hex(V.path_request.raw));
  expect(iface.sent.length).toBe(before + 1);
  ep.close();
});

test('data_single is decrypted and proven with exactly the proof_implicit bytes; a HEADER_2 copy in transit is ignored', () => {
  const ep = new RnsEndpoint({ identity: RnsIdentity.fromPrivateKey(hex(ID2.private_key)) });
  const iface = new RecordingInterface();
  ep.interfaceUp(iface);
  const n = iface.sent.length;
  ep.inbound(iface, insertTransport(hex(V.data_single.raw), hex(V.data_single_via_transport.transport_id)));
  expect(iface.sent.length).toBe(n);
  const ep2 = new RnsEndpoint({ identity: RnsIdentity.fromPrivateKey(hex(ID2.private_key)) });
  const iface2 = new RecordingInterface();
  ep2.interfaceUp(iface2);
  ep2.inbound(iface2, hex(V.data_single.raw));
  expect(iface2.sent[iface2.sent.length - 1].toString('hex')).toBe(V.proof_implicit.raw);
  expect(ep2.counters.proofsSent).toBe(1);
  // the same packet again is a duplicate: dropped, not proven twice
  ep2.inbound(iface2, hex(V.data_single.raw));
  expect(ep2.counters.proofsSent).toBe(1);
  expect(ep2.counters.duplicatesDropped).toBe(1);
  ep.close();
  ep2.close();
});

test('own announce echoed back, a different key for a known destination, IFAC and hops ≥ 128 are dropped (§7, §12)', () => {
  const ep = new RnsEndpoint({ identity: RnsIdentity.fromPrivateKey(hex(ID1.private_key)) });
  const iface = new RecordingInterface();
  ep.interfaceUp(iface);
  ep.inbound(iface, hex(V.announce_no_ratchet_via_transport.raw)); // our own (identity1) announce, re-broadcast
  expect(ep.status().paths).toHaveLength(0);
  ep.close();

  const other = new RnsEndpoint({ identity: RnsIdentity.generate() });
  other.interfaceUp(iface);
  other.inbound(iface, hex(V.announce_no_ratchet.raw));
  expect(other.status().paths).toHaveLength(1);
  const accepted = other.counters.announcesAccepted;
  // A takeover attempt: pretend another key was stored for that hash → refused even with a valid signature.
  other.known.remember(hex(V.announce_no_ratchet.header.destination_hash), Buffer.alloc(64, 1), null, null, Date.now());
  const fresh = buildAnnounce({ identity: RnsIdentity.fromPrivateKey(hex(ID1.private_key)), name: 'infonet.node', emittedAtS: Date.now() / 1000 });
  other.inbound(iface, fresh.raw);
  expect(other.counters.announcesAccepted).toBe(accepted);
  other.known.remember(hex(V.announce_no_ratchet.header.destination_hash), RnsIdentity.fromPrivateKey(hex(ID1.private_key)).publicKey, null, null, Date.now());
  other.inbound(iface, fresh.raw); // the genuine key: a newer announce is accepted
  expect(other.counters.announcesAccepted).toBe(accepted + 1);
  const ifac = Buffer.from(hex(V.data_single.raw));
  ifac[0] |= 0x80;
  const rx = other.counters.undecryptable + other.counters.duplicatesDropped;
  other.inbound(iface, ifac);
  const hops = Buffer.from(hex(V.data_single.raw));
  hops[1] = 128;
  other.inbound(iface, hops);
  expect(other.counters.undecryptable + other.counters.duplicatesDropped).toBe(rx);
  other.close();
});
