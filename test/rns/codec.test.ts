// Golden vectors for the pure RNS codec layer (rns-wire.md §2–§13): every encoder reproduces `raw` byte for byte,
// every decoder validates/decrypts the vectors and rejects the tampered variants the vector file lists.
import { Context, DestinationType, PacketType } from '../../transports/rns/constants.js';
import { HdlcDecoder, hdlcFrame } from '../../transports/rns/hdlc.js';
import { RnsIdentity, x25519PrivateKey, x25519PublicKey } from '../../transports/rns/identity.js';
import { INFONET_NODE_NAME, PATH_REQUEST_DESTINATION, nameHash, singleDestinationHash } from '../../transports/rns/names.js';
import { decodePacket, encodePacket, hashablePart, insertTransport, packetHash } from '../../transports/rns/packet.js';
import { buildAnnounce, validateAnnounce, type ValidAnnounce } from '../../transports/rns/announce.js';
import { decryptSingle, deriveTokenKey, encryptSingle } from '../../transports/rns/single-crypto.js';
import { buildImplicitProof, validateProof } from '../../transports/rns/proof.js';
import { buildPathRequest, parsePathRequest } from '../../transports/rns/path-request.js';
import { golden, hex, ID1, ID2, V } from './golden.js';
import { createHash, diffieHellman } from 'node:crypto';

interface GoldenIdentity {
  id: string;
  private_key: string;
  public_key: string;
  identity_hash: string;
  x25519_private: string;
  ed25519_seed: string;
  destinations: Record<string, { name: string; name_hash: string; destination_hash: string }>;
}

const id1 = RnsIdentity.fromPrivateKey(hex(ID1.private_key));
const id2 = RnsIdentity.fromPrivateKey(hex(ID2.private_key));
const idOf = (name: string) => (name === 'identity1' ? id1 : id2);
const allRawVectors = Object.entries(V).filter(([, v]) => typeof (v as { raw?: string }).raw === 'string') as [string, { raw: string; packet_hash: string; header: Record<string, unknown> }][];

describe('identities and hashes (§5, §6)', () => {
  test.each(golden.identities as GoldenIdentity[])('$id: public key, identity hash, name and destination hashes', (g) => {
    const id = RnsIdentity.fromPrivateKey(hex(g.private_key));
    expect(id.publicKey.toString('hex')).toBe(g.public_key);
    expect(id.hash.toString('hex')).toBe(g.identity_hash);
    expect(id.privateKey.toString('hex')).toBe(g.x25519_private + g.ed25519_seed);
    for (const d of Object.values(g.destinations)) {
      expect(nameHash(d.name).toString('hex')).toBe(d.name_hash);
      expect(singleDestinationHash(d.name, id.hash).toString('hex')).toBe(d.destination_hash);
    }
  });

  test('path request destination is H16(H10("rnstransport.path.request"))', () => {
    expect(PATH_REQUEST_DESTINATION.toString('hex')).toBe('6b9f66014d9853faab220fba47d02761');
    expect(PATH_REQUEST_DESTINATION.toString('hex')).toBe(V.path_request.path_request_destination_hash);
  });
});

describe('packet codec and hashes (§3, §4)', () => {
  test.each(allRawVectors)('%s: decode → header fields; re-encode → raw; packet hash', (_name, v) => {
    const raw = hex(v.raw);
    const p = decodePacket(raw)!;
    const h = v.header;
    expect(p.raw[0].toString(16).padStart(2, '0')).toBe(h.flags);
    expect(p.hops).toBe(h.hops);
    expect(p.headerType).toBe(h.header_type);
    expect(p.contextFlag).toBe(h.context_flag);
    expect(p.transportType).toBe(h.transport_type);
    expect(p.destinationType).toBe(h.destination_type);
    expect(p.packetType).toBe(h.packet_type);
    expect(p.transportId ? p.transportId.toString('hex') : null).toBe(h.transport_id);
    expect(p.destinationHash.toString('hex')).toBe(h.destination_hash);
    expect(p.context.toString(16).padStart(2, '0')).toBe(h.context);
    expect(p.data.toString('hex')).toBe(h.data);
    expect(hashablePart(raw).toString('hex')).toBe(h.hashable_part);
    expect(packetHash(raw).toString('hex')).toBe(v.packet_hash);
    const again = encodePacket({ ...p, transportId: p.transportId });
    expect(again.raw.toString('hex')).toBe(v.raw);
  });

  test('drops IFAC-flagged, hops ≥ 128 and short packets', () => {
    const raw = hex(V.data_single.raw);
    expect(decodePacket(Buffer.concat([Buffer.from([raw[0] | 0x80]), raw.subarray(1)]))).toBeNull();
    expect(decodePacket(Buffer.concat([raw.subarray(0, 1), Buffer.from([128]), raw.subarray(2)]))).toBeNull();
    expect(decodePacket(raw.subarray(0, 18))).toBeNull();
    const h2 = hex(V.data_single_via_transport.raw);
    expect(decodePacket(h2.subarray(0, 34))).toBeNull();
  });

  test('HEADER_2 insertion reproduces data_single_via_transport and keeps the packet hash (§12)', () => {
    const inserted = insertTransport(hex(V.data_single.raw), hex(V.data_single_via_transport.transport_id));
    expect(inserted.toString('hex')).toBe(V.data_single_via_transport.raw);
    expect(packetHash(inserted).toString('hex')).toBe(V.data_single.packet_hash);
    expect(packetHash(hex(V.announce_no_ratchet_via_transport.raw))).toEqual(packetHash(hex(V.announce_no_ratchet.raw)));
  });
});

describe('HDLC framing (§2)', () => {
  const raw = hex(V.hdlc_frame.raw);
  const frame = hex(V.hdlc_frame.frame);

  test('the writer reproduces the vector frame; only the delimiters are 0x7E', () => {
    expect(hdlcFrame(raw).toString('hex')).toBe(V.hdlc_frame.frame);
    expect([...frame.subarray(1, -1)].includes(0x7e)).toBe(false);
  });

  test('7D 5D 5E unescapes to 7D 5E, never 7E', () => {
    expect(raw.includes(Buffer.from('7d5e', 'hex'))).toBe(true);
    const [out] = new HdlcDecoder().push(frame);
    expect(out.toString('hex')).toBe(V.hdlc_frame.raw);
  });

  test('two back-to-back frames split at every offset (also inside an escape) come out intact', () => {
    const stream = Buffer.concat([Buffer.from('garbage'), frame, frame.subarray(1)]); // closing flag opens the next
    for (let cut = 0; cut <= stream.length; cut++) {
      const d = new HdlcDecoder();
      const out = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
      expect(out.map((b) => b.toString('hex'))).toEqual([V.hdlc_frame.raw, V.hdlc_frame.raw]);
    }
  });

  test('byte-at-a-time feeding; empty and short frames are ignored', () => {
    const d = new HdlcDecoder();
    const out: Buffer[] = [];
    for (const b of Buffer.concat([Buffer.from([0x7e, 0x7e]), hdlcFrame(Buffer.alloc(19, 1)), frame])) out.push(...d.push(Buffer.from([b])));
    expect(out.map((b) => b.toString('hex'))).toEqual([V.hdlc_frame.raw]);
  });

  test('an unterminated frame never holds more than twice the HW MTU', () => {
    const d = new HdlcDecoder(1000);
    d.push(Buffer.from([0x7e]));
    for (let i = 0; i < 10; i++) d.push(Buffer.alloc(700, 1));
    expect(d.buffered).toBeLessThanOrEqual(2000);
    // the next flag ends the discarded run and the decoder resynchronises on the following frame
    expect(d.push(frame).map((b) => b.toString('hex'))).toEqual([V.hdlc_frame.raw]);
  });
});

describe('announces (§7)', () => {
  const cases: [string, ReturnType<typeof RnsIdentity.fromPrivateKey>, string][] = [
    ['announce_no_ratchet', id1, 'infonet.node'],
    ['announce_with_ratchet', id2, 'infonet.node'],
    ['path_response', id2, 'infonet.node'],
    ['hdlc_frame', id1, 'interop.probe'],
  ];

  test.each(cases)('%s: encoder reproduces raw; validator accepts and recalls fields', (name, id, dname) => {
    const v = V[name];
    const f = v.fields;
    const p = buildAnnounce({
      identity: id,
      name: dname,
      appData: hex(f.app_data),
      ratchetPublic: f.ratchet_public ? hex(f.ratchet_public) : null,
      randomHash: hex(f.random_hash),
      context: v.header.context === '0b' ? Context.PATH_RESPONSE : Context.NONE,
    });
    expect(p.raw.toString('hex')).toBe(v.raw);
    const a = validateAnnounce(decodePacket(hex(v.raw))!) as ValidAnnounce;
    expect(typeof a).toBe('object');
    expect(a.publicKey.toString('hex')).toBe(f.public_key);
    expect(a.nameHash.toString('hex')).toBe(f.name_hash);
    expect(a.emittedAtS).toBe(f.emitted_unix_time);
    expect(a.appData ? a.appData.toString('hex') : '').toBe(f.app_data);
    expect(a.ratchetPublic ? a.ratchetPublic.toString('hex') : undefined).toBe(f.ratchet_public);
    expect(a.signature.toString('hex')).toBe(f.signature);
    if (v.signed_data) expect(Buffer.concat([a.destinationHash, a.publicKey, a.nameHash, a.randomHash, a.ratchetPublic ?? Buffer.alloc(0), a.appData ?? Buffer.alloc(0)]).toString('hex')).toBe(v.signed_data);
  });

  test('the HEADER_2 re-broadcast validates too', () => {
    const a = validateAnnounce(decodePacket(hex(V.announce_no_ratchet_via_transport.raw))!) as ValidAnnounce;
    expect(a.destinationHash.toString('hex')).toBe(V.announce_no_ratchet.header.destination_hash);
  });

  const tamperable = ['announce_no_ratchet', 'announce_no_ratchet_via_transport', 'announce_with_ratchet', 'path_response', 'hdlc_frame'];
  test.each(tamperable)('%s: flipping any signed byte, or the destination hash, is rejected', (name) => {
    const raw = hex(V[name].raw);
    const p = decodePacket(raw)!;
    const dataStart = raw.length - p.data.length;
    const destStart = dataStart - 17;
    // last byte, a public-key byte, the name hash, the random hash, a signature byte, each destination byte
    const offsets = [raw.length - 1, dataStart + 5, dataStart + 40, dataStart + 66, dataStart + 78, dataStart + 100, ...Array.from({ length: 16 }, (_, i) => destStart + i)];
    for (const off of offsets) {
      const t = Buffer.from(raw);
      t[off] ^= 0x01;
      const r = validateAnnounce(decodePacket(t)!);
      expect(typeof r).toBe('string');
    }
    // a consistent but different destination hash (e.g. another name) is a mismatch, not a signature pass
    const wrong = Buffer.from(raw);
    singleDestinationHash('other.name', id1.hash).copy(wrong, destStart);
    expect(validateAnnounce(decodePacket(wrong)!)).toMatch(/bad_signature|destination_mismatch/);
  });

  test('PLAIN or GROUP announces are refused', () => {
    const raw = Buffer.from(hex(V.announce_no_ratchet.raw));
    raw[0] = (raw[0] & ~0x0c) | (DestinationType.PLAIN << 2);
    expect(validateAnnounce(decodePacket(raw)!)).toBe('not_single');
  });

  test('app_data that would not fit a HEADER_2 re-broadcast is refused', () => {
    expect(() => buildAnnounce({ identity: id1, name: INFONET_NODE_NAME, appData: Buffer.alloc(318) })).toThrow(RangeError);
    const p = buildAnnounce({ identity: id1, name: INFONET_NODE_NAME, appData: Buffer.alloc(317) });
    expect(insertTransport(p.raw, Buffer.alloc(16)).length).toBe(500);
  });
});

describe('SINGLE encryption (§9) and ratchets (§10)', () => {
  test('data_single: every intermediate value and raw, byte for byte', () => {
    const v = V.data_single;
    const shared = diffieHellman({ privateKey: x25519PrivateKey(hex(v.ephemeral_private)), publicKey: x25519PublicKey(hex(v.encryption_target_public)) });
    expect(shared.toString('hex')).toBe(v.shared_secret);
    const k = deriveTokenKey(shared, hex(v.hkdf_salt));
    expect(Buffer.concat([k.signingKey, k.encryptionKey]).toString('hex')).toBe(v.derived_key);
    const data = encryptSingle(hex(v.plaintext), id2.publicKey.subarray(0, 32), id2.hash, { ephemeralPrivate: hex(v.ephemeral_private), iv: hex(v.iv) });
    expect(data.toString('hex')).toBe(v.ciphertext);
    expect(data.subarray(32).toString('hex')).toBe(v.token);
    const p = encodePacket({ destinationType: DestinationType.SINGLE, packetType: PacketType.DATA, destinationHash: singleDestinationHash(INFONET_NODE_NAME, id2.hash), context: 0, data });
    expect(p.raw.toString('hex')).toBe(v.raw);
  });

  test('data_single_ratchet: encrypted to the announced ratchet, salt still the identity hash', () => {
    const v = V.data_single_ratchet;
    const ann = validateAnnounce(decodePacket(hex(V.announce_with_ratchet.raw))!) as ValidAnnounce;
    expect(createHash('sha256').update(ann.ratchetPublic!).digest().subarray(0, 10).toString('hex')).toBe(V.announce_with_ratchet.ratchet_id);
    const data = encryptSingle(hex(v.plaintext), ann.ratchetPublic!, id2.hash, { ephemeralPrivate: hex(v.ephemeral_private), iv: hex(v.iv) });
    expect(data.toString('hex')).toBe(v.ciphertext);
    expect(encodePacket({ destinationType: 0, packetType: 0, destinationHash: ann.destinationHash, context: 0, data }).raw.toString('hex')).toBe(v.raw);
  });

  test('decrypt both vectors; the identity key alone cannot open the ratchet one; wrong keys and flipped bytes fail', () => {
    const ratchet = x25519PrivateKey(hex(V.announce_with_ratchet.ratchet_private));
    const single = decodePacket(hex(V.data_single.raw))!;
    const withRatchet = decodePacket(hex(V.data_single_ratchet.raw))!;
    expect(decryptSingle(single.data, [ratchet, id2.encryptionKey], id2.hash)!.toString('hex')).toBe(V.data_single.plaintext);
    expect(decryptSingle(withRatchet.data, [ratchet, id2.encryptionKey], id2.hash)!.toString('hex')).toBe(V.data_single_ratchet.plaintext);
    expect(decryptSingle(withRatchet.data, [id2.encryptionKey], id2.hash)).toBeNull();
    expect(decryptSingle(single.data, [id1.encryptionKey], id1.hash)).toBeNull();
    const flipped = Buffer.from(single.data);
    flipped[60] ^= 1;
    expect(decryptSingle(flipped, [id2.encryptionKey], id2.hash)).toBeNull();
  });

  test('round trip with fresh randomness: two encryptions differ (new packet hash per retransmission)', () => {
    const msg = Buffer.from('chunk');
    const a = encryptSingle(msg, id1.publicKey.subarray(0, 32), id1.hash);
    const b = encryptSingle(msg, id1.publicKey.subarray(0, 32), id1.hash);
    expect(a.equals(b)).toBe(false);
    expect(decryptSingle(a, [id1.encryptionKey], id1.hash)).toEqual(msg);
  });

  test('383-byte plaintext is 483 bytes as HEADER_1 and 499 as HEADER_2; 384+ would exceed the MTU once inserted', () => {
    const dest = singleDestinationHash(INFONET_NODE_NAME, id2.hash);
    const p = encodePacket({ destinationType: 0, packetType: 0, destinationHash: dest, context: 0, data: encryptSingle(Buffer.alloc(383), id2.publicKey.subarray(0, 32), id2.hash) });
    expect(p.raw.length).toBe(483);
    expect(insertTransport(p.raw, Buffer.alloc(16)).length).toBe(499);
    const big = encodePacket({ destinationType: 0, packetType: 0, destinationHash: dest, context: 0, data: encryptSingle(Buffer.alloc(384), id2.publicKey.subarray(0, 32), id2.hash) });
    expect(big.raw.length).toBe(499);
    expect(() => insertTransport(big.raw, Buffer.alloc(16))).toThrow(RangeError);
  });
});

describe('proofs (§11)', () => {
  test('proof_implicit: built byte for byte, validated, tampering rejected', () => {
    const provenHash = packetHash(hex(V.data_single.raw));
    const proof = buildImplicitProof(id2, provenHash);
    expect(proof.raw.toString('hex')).toBe(V.proof_implicit.raw);
    expect(proof.raw.length).toBe(83);
    const parsed = decodePacket(hex(V.proof_implicit.raw))!;
    expect(validateProof(parsed, provenHash, id2.publicKey)).toBe(true);
    expect(validateProof(parsed, provenHash, id1.publicKey)).toBe(false);
    const t = Buffer.from(parsed.raw);
    t[t.length - 1] ^= 1;
    expect(validateProof(decodePacket(t)!, provenHash, id2.publicKey)).toBe(false);
    expect(validateProof(parsed, packetHash(hex(V.data_single_ratchet.raw)), id2.publicKey)).toBe(false);
  });

  test('explicit proofs (hash ‖ signature) are accepted', () => {
    const h = packetHash(hex(V.data_single.raw));
    const explicit = encodePacket({ destinationType: 0, packetType: PacketType.PROOF, destinationHash: h.subarray(0, 16), context: 0, data: Buffer.concat([h, id2.sign(h)]) });
    expect(validateProof(explicit, h, id2.publicKey)).toBe(true);
  });
});

describe('path requests (§8)', () => {
  test('path_request: encoder reproduces raw; parser reads destination and tag', () => {
    const v = V.path_request;
    const p = buildPathRequest(hex(v.requested_destination), hex(v.tag));
    expect(p.raw.toString('hex')).toBe(v.raw);
    expect(p.raw.length).toBe(51);
    const r = parsePathRequest(decodePacket(hex(v.raw))!)!;
    expect(r.destinationHash.toString('hex')).toBe(v.requested_destination);
    expect(r.tag.toString('hex')).toBe(v.tag);
    expect(r.requesterTransportId).toBeNull();
  });

  test('a transport node request (67 bytes) carries its transport id; a request without a tag is ignored', () => {
    const v = V.path_request;
    const withTid = encodePacket({ destinationType: DestinationType.PLAIN, packetType: 0, destinationHash: PATH_REQUEST_DESTINATION, context: 0, data: Buffer.concat([hex(v.requested_destination), Buffer.alloc(16, 9), hex(v.tag)]) });
    expect(withTid.raw.length).toBe(67);
    expect(parsePathRequest(withTid)!.requesterTransportId).toEqual(Buffer.alloc(16, 9));
    const noTag = encodePacket({ destinationType: DestinationType.PLAIN, packetType: 0, destinationHash: PATH_REQUEST_DESTINATION, context: 0, data: hex(v.requested_destination) });
    expect(parsePathRequest(noTag)).toBeNull();
  });

  test('a fresh tag per request', () => {
    const d = hex(V.path_request.requested_destination);
    expect(buildPathRequest(d).raw.equals(buildPathRequest(d).raw)).toBe(false);
  });
});
