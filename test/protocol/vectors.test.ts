import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import { canonicalJson } from '../../protocol/canonical-json.js';
import { normalizeDmPayload } from '../../protocol/dm-payload.js';
import { eventToWireJson, type ChainEvent } from '../../protocol/event.js';
import { computeEventId, eventIdWithTimestampText, matchEventId } from '../../protocol/event-id.js';
import { gateSignatureVariants } from '../../protocol/gate-payload.js';
import { deriveNodeId, identityFromSeed } from '../../protocol/identity.js';
import { normalizeKeyRotate } from '../../protocol/public-payload.js';
import { pythonFloatRepr } from '../../protocol/python-float.js';
import { checkSealedBytes } from '../../protocol/sealed-bytes.js';
import { signaturePayload } from '../../protocol/signature-payload.js';
import { signEd25519, verifySignature } from '../../protocol/signatures.js';
import * as V from '../fixtures/vectors.js';

ed.hashes.sha512 = sha512;

const k1 = identityFromSeed(Buffer.from(V.K1_SEED_HEX, 'hex'));
const a4 = JSON.parse(V.A4_CHAIN_JSON) as ChainEvent[];

describe('Appendix A vectors', () => {
  test('T01 node id', () => {
    expect(k1.publicKey).toBe(V.K1_PUBLIC_KEY);
    expect(deriveNodeId(V.K1_PUBLIC_KEY)).toBe(V.K1_NODE_ID);
  });

  test('T03 signature payload layout (A.2) and signature, cross-checked with @noble/ed25519', () => {
    const sp = signaturePayload('message', V.K1_NODE_ID, 1, V.A2_PAYLOAD);
    expect(sp).toBe(V.A2_SIGNATURE_PAYLOAD);
    expect(signEd25519(k1.privateKey, sp)).toBe(V.A2_SIGNATURE);
    const nobleSig = Buffer.from(ed.sign(Buffer.from(sp), k1.seed)).toString('hex');
    expect(nobleSig).toBe(V.A2_SIGNATURE);
    expect(ed.verify(Buffer.from(V.A2_SIGNATURE, 'hex'), Buffer.from(sp), k1.publicKeyRaw)).toBe(true);
    expect(verifySignature('Ed25519', V.K1_PUBLIC_KEY, V.A2_SIGNATURE, sp)).toBe(true);
  });

  test('T04 event id (float timestamp)', () => {
    const base = { prev_hash: '0'.repeat(64), event_type: 'message', node_id: V.K1_NODE_ID, payload: V.A2_PAYLOAD, sequence: 1, network_id: 'sb-testnet-0' };
    expect(computeEventId({ ...base, timestamp: 1700000000.0 })).toBe(V.A3_ID_FLOAT);
    expect(computeEventId({ ...base, timestamp: 1700000000.25 })).toBe(V.A3_ID_QUARTER);
    expect(eventIdWithTimestampText({ ...base, timestamp: 1700000000 }, '1700000000')).toBe(V.A3_ID_INT);
    expect(matchEventId({ ...base, timestamp: 1700000000, event_id: V.A3_ID_INT })).toBe('int');
    expect(matchEventId({ ...base, timestamp: 1700000000, event_id: V.A3_ID_FLOAT })).toBe('float');
  });

  test('A.4 chain events: ids recompute and wire form is byte-exact', () => {
    const lines = V.A4_CHAIN_JSON.split('\n').filter((l) => l.startsWith('{')).map((l) => l.replace(/,$/, ''));
    a4.forEach((ev, i) => {
      expect(matchEventId(ev)).toBe('float');
      expect(eventToWireJson(ev)).toBe(lines[i]);
    });
  });

  test('A.5 gate signature variants in try-order, and the gate signature payload string', () => {
    const g = { gate: 'ops-gate', ciphertext: 'ZW5jcnlwdGVkLWdhdGUtY2lwaGVydGV4dA==', nonce: 'bm9uY2UtdmFsdWUtMTIzNA==', sender_ref: 'sender-ref-1', format: 'mls1', transport_lock: 'private_strong', epoch: 3 };
    expect(gateSignatureVariants({ ...g, reply_to: 'parent-1' }).map(canonicalJson)).toEqual(V.A5_VARIANTS);
    expect(signaturePayload('gate_message', V.K1_NODE_ID, 1, gateSignatureVariants(g)[0])).toBe(V.A5_GATE_SIGNATURE_PAYLOAD);
    expect(canonicalJson(normalizeDmPayload({ recipient_id: 'r' }))).toBe(V.A5_DM_NORMALIZED);
  });

  test('T38 sealed-bytes table (A.7)', () => {
    for (const [input, expected] of V.A7_SEALED) {
      const r = checkSealedBytes(input, 'f');
      if (expected === null) expect([input, r]).toEqual([input, null]);
      else expect([input, r?.reason]).toEqual([input, expected]);
    }
  });

  test('A.9 key rotation claim payload', () => {
    const claim = normalizeKeyRotate({ old_node_id: '!sb_old', old_public_key: 'OLDPK', old_public_key_algo: 'Ed25519', new_public_key: 'NEWPK', new_public_key_algo: 'Ed25519', timestamp: 1700000000 });
    expect(signaturePayload('key_rotate', '!sb_old', 0, claim)).toBe(V.A9_ROTATE_PAYLOAD);
  });

  test('Python float repr of timestamps', () => {
    expect(pythonFloatRepr(1700000000)).toBe('1700000000.0');
    expect(pythonFloatRepr(1235)).toBe('1235.0');
    expect(pythonFloatRepr(1700000000.25)).toBe('1700000000.25');
    expect(pythonFloatRepr(0.00001)).toBe('1e-05');
    expect(pythonFloatRepr(0.000123)).toBe('0.000123');
    expect(pythonFloatRepr(0.0001)).toBe('0.0001');
    expect(pythonFloatRepr(1.5e-7)).toBe('1.5e-07');
    expect(pythonFloatRepr(1e16)).toBe('1e+16');
    expect(pythonFloatRepr(123456789012345.6)).toBe('123456789012345.6');
    expect(pythonFloatRepr(0.1)).toBe('0.1');
  });
});
