// Stateful codec-layer rules: duplicate filter bound, path table freshness/expiry, key pinning and ratchet choice,
// receipts settled by proofs or timeouts, identity persistence in the data directory.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateAnnounce, type ValidAnnounce } from '../../transports/rns/announce.js';
import { DuplicateFilter } from '../../transports/rns/duplicate-filter.js';
import { RnsIdentity } from '../../transports/rns/identity.js';
import { IDENTITY_FILE, loadOrCreateIdentity } from '../../transports/rns/identity-file.js';
import { KnownDestinations } from '../../transports/rns/known-destinations.js';
import { decodePacket, packetHash } from '../../transports/rns/packet.js';
import { PathTable } from '../../transports/rns/path-table.js';
import { buildImplicitProof } from '../../transports/rns/proof.js';
import { ReceiptTable } from '../../transports/rns/receipts.js';
import { hex, ID2, V } from './golden.js';

const DAY = 24 * 3600 * 1000;
const ann = (name: string) => validateAnnounce(decodePacket(hex(V[name].raw))!) as ValidAnnounce;

test('duplicate filter admits once and never holds more than its capacity', () => {
  const f = new DuplicateFilter(100);
  const h = Buffer.alloc(32, 1);
  expect(f.admit(h)).toBe(true);
  expect(f.admit(h)).toBe(false);
  for (let i = 0; i < 1000; i++) f.admit(Buffer.from(i.toString().padStart(32, '0')));
  expect(f.size).toBe(100);
  expect(f.admit(h)).toBe(true); // evicted long ago
});

describe('path table', () => {
  const a = ann('announce_no_ratchet');
  const via = { hops: 2, transportId: hex(V.announce_no_ratchet_via_transport.transport_id), interfaceId: 'tcp0' };

  test('next hop is the transport id for HEADER_2, the destination itself for a neighbour; expires after 7 days', () => {
    const t = new PathTable();
    expect(t.consider(a, via, 0)).toBe('accepted');
    expect(t.lookup(a.destinationHash, 0)!.nextHop.toString('hex')).toBe(V.announce_no_ratchet_via_transport.transport_id);
    expect(t.lookup(a.destinationHash, 7 * DAY)).toBeNull();
    const t2 = new PathTable();
    t2.consider(a, { hops: 1, transportId: null, interfaceId: 'tcp0' }, 0);
    expect(t2.lookup(a.destinationHash, 0)!.nextHop).toEqual(a.destinationHash);
  });

  test('a replayed announce never refreshes the path, even after expiry', () => {
    const t = new PathTable();
    t.consider(a, via, 0);
    expect(t.consider(a, { hops: 5, transportId: Buffer.alloc(16, 7), interfaceId: 'x' }, 1000)).toBe('replay');
    expect(t.lookup(a.destinationHash, 1000)!.hops).toBe(2);
    expect(t.consider(a, via, 8 * DAY)).toBe('replay');
    expect(t.lookup(a.destinationHash, 8 * DAY)).toBeNull();
  });

  test('a new random hash replaces the path only if emitted later, or once the old path expired', () => {
    const t = new PathTable();
    t.consider(a, via, 0);
    const older = { ...a, randomHash: Buffer.from('00000000000000000000', 'hex'), emittedAtS: a.emittedAtS - 10 };
    expect(t.consider(older, { hops: 1, transportId: null, interfaceId: 'y' }, 10)).toBe('stale');
    const newer = { ...a, randomHash: Buffer.from('01010101010101010101', 'hex'), emittedAtS: a.emittedAtS + 10 };
    expect(t.consider(newer, { hops: 1, transportId: null, interfaceId: 'y' }, 10)).toBe('accepted');
    expect(t.lookup(a.destinationHash, 10)!.hops).toBe(1);
    const olderButFresh = { ...a, randomHash: Buffer.from('02020202020202020202', 'hex'), emittedAtS: a.emittedAtS - 100 };
    expect(t.consider(olderButFresh, via, 8 * DAY)).toBe('accepted');
  });

  test('paths over a closed interface become unusable', () => {
    const t = new PathTable();
    t.consider(a, via, 0);
    t.expireInterface('tcp0', 5);
    expect(t.lookup(a.destinationHash, 5)).toBeNull();
  });
});

describe('known destinations', () => {
  test('pins the public key; encrypts to the latest ratchet for 30 days, then the identity key; survives JSON', () => {
    const k = new KnownDestinations();
    const r = ann('announce_with_ratchet');
    k.remember(r.destinationHash, r.publicKey, r.appData, r.ratchetPublic, 0);
    expect(k.keyMatches(r.destinationHash, r.publicKey)).toBe(true);
    expect(k.keyMatches(r.destinationHash, Buffer.alloc(64))).toBe(false);
    expect(k.encryptionTarget(r.destinationHash, DAY)).toEqual(r.ratchetPublic);
    expect(k.encryptionTarget(r.destinationHash, 31 * DAY)).toEqual(r.publicKey.subarray(0, 32));
    // an announce without a ratchet keeps the stored ratchet
    k.remember(r.destinationHash, r.publicKey, null, null, DAY);
    expect(k.encryptionTarget(r.destinationHash, 2 * DAY)).toEqual(r.ratchetPublic);
    const back = KnownDestinations.fromJSON(JSON.parse(JSON.stringify(k)));
    expect(back.encryptionTarget(r.destinationHash, DAY)).toEqual(r.ratchetPublic);
    expect(KnownDestinations.fromJSON({ nothex: 1, ['a'.repeat(32)]: { k: 'short' } }).encryptionTarget(Buffer.alloc(16), 0)).toBeNull();
  });
});

describe('receipts', () => {
  test('a valid proof settles the receipt as delivered; a wrong one does not', async () => {
    const id2 = RnsIdentity.fromPrivateKey(hex(ID2.private_key));
    const h = packetHash(hex(V.data_single.raw));
    const r = new ReceiptTable();
    const outcome = r.track(h, id2.publicKey, 60_000);
    expect(r.onProof(buildImplicitProof(RnsIdentity.generate(), h))).toBe(false);
    expect(r.onProof(decodePacket(hex(V.proof_implicit.raw))!)).toBe(true);
    await expect(outcome).resolves.toBe('delivered');
    expect(r.size).toBe(0);
  });

  test('no proof → timeout', async () => {
    const r = new ReceiptTable();
    await expect(r.track(Buffer.alloc(32, 3), Buffer.alloc(64), 1)).resolves.toBe('timeout');
  });
});

test('identity is created once in the data directory (64-byte reference format, mode 0600) and reloaded', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rns-id-'));
  try {
    const a = loadOrCreateIdentity(dir);
    const st = statSync(join(dir, IDENTITY_FILE));
    expect(st.size).toBe(64);
    expect(st.mode & 0o777).toBe(0o600);
    expect(loadOrCreateIdentity(dir).publicKey).toEqual(a.publicKey);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
