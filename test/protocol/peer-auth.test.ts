import { ErrorCodes, InfonetError } from '../../protocol/errors.js';
import {
  derivePeerKey,
  parsePeerSecrets,
  peerMac,
  resolvePeerSecret,
  signPeerRequest,
  verifyPeerRequest,
} from '../../protocol/peer-auth.js';

const REPLICATE_BODY =
  '{"envelope":{"msg_id":"dm-1","mailbox_key":"mb","sender_block_ref":"ref:x","ciphertext":"Y2lwaGVyLWRtLTE="}}';

test('T47 HMAC key vector', () => {
  const key = derivePeerKey('shared-secret', 'https://good.example');
  expect(key.toString('hex')).toBe('f27971dd6753b217af14e2486628168c061c4477f1f6d1c06954a39d95e8cbc2');
  expect(peerMac(key, Buffer.from('{"events":[]}'))).toBe('58b85791c01dca4717730e1c1ba0b932f013b106c0ab87010080720b037cfd70');
});

test('A.6 replicate vector (fleet-secret, sender onion URL)', () => {
  const key = derivePeerKey('fleet-secret', 'http://sender.onion:8000');
  expect(key.toString('hex')).toBe('3100db659b613e93d7afa55fd19062f058a43538716560672b6079e48062249e');
  expect(peerMac(key, REPLICATE_BODY)).toBe('6810ac3c861643a71ff47df6305f491c2687d2309ed5a6fc46069a92440eaac9');
});

describe('T48 per-peer secret precedence', () => {
  const settings = { peerSecrets: 'https://a.example=sa', pushSecret: 'g' };
  const body = '{"events":[]}';

  test('resolution: per-peer entry wins, others use the global secret', () => {
    expect(resolvePeerSecret('https://a.example/', settings)).toBe('sa');
    expect(resolvePeerSecret('https://b.example', settings)).toBe('g');
    expect(resolvePeerSecret('https://a.example', { peerSecrets: 'https://a.example=sa', pushSecret: '' })).toBe('sa');
  });

  test('verification: g-derived MAC for a.example is rejected, sa-derived accepted', () => {
    const allowlist = ['https://a.example'];
    const withG = peerMac(derivePeerKey('g', 'https://a.example'), body);
    const withSa = peerMac(derivePeerKey('sa', 'https://a.example'), body);
    const bad = verifyPeerRequest({ headerUrl: 'https://a.example', headerMac: withG, body, allowlist, settings });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.error.code).toBe(ErrorCodes.PEER_AUTH);
      expect(bad.error.reason).toBe('Invalid or missing peer HMAC');
    }
    expect(verifyPeerRequest({ headerUrl: 'https://a.example', headerMac: withSa, body, allowlist, settings })).toEqual({
      ok: true,
      peerUrl: 'https://a.example',
    });
  });
});

test('parsePeerSecrets trims, normalises and skips empty halves', () => {
  const m = parsePeerSecrets(' HTTPS://A.example/ = sa ,=x, https://b.example=, nosep ,http://c.onion:80=s=c');
  expect([...m.entries()]).toEqual([
    ['https://a.example', 'sa'],
    ['http://c.onion', 's=c'],
  ]);
});

test('no secret configured: resolve is empty, sign fails closed with a helpful message', () => {
  expect(resolvePeerSecret('https://a.example', { peerSecrets: '', pushSecret: '' })).toBe('');
  let err: unknown;
  try {
    signPeerRequest('http://me.onion', '{}', { peerSecrets: '', pushSecret: '' });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(InfonetError);
  expect((err as InfonetError).code).toBe(ErrorCodes.PEER_AUTH);
  expect((err as InfonetError).message).toMatch(/MESH_PEER_PUSH_SECRET or MESH_PEER_SECRETS/);
});

describe('sign + verify round trip', () => {
  const settings = { peerSecrets: '', pushSecret: 'fleet-secret' };
  const allowlist = ['http://sender.onion:8000'];

  test('sender URL goes in X-Peer-Url and keys the MAC (A.6 vector)', () => {
    const headers = signPeerRequest('http://Sender.onion:8000/', Buffer.from(REPLICATE_BODY), settings);
    expect(headers).toEqual({
      'X-Peer-Url': 'http://sender.onion:8000',
      'X-Peer-HMAC': '6810ac3c861643a71ff47df6305f491c2687d2309ed5a6fc46069a92440eaac9',
    });
    const r = verifyPeerRequest({
      headerUrl: headers['X-Peer-Url'],
      headerMac: headers['X-Peer-HMAC'].toUpperCase(),
      body: REPLICATE_BODY,
      allowlist,
      settings,
    });
    expect(r).toEqual({ ok: true, peerUrl: 'http://sender.onion:8000' });
  });

  test.each([
    ['missing MAC', { headerMac: undefined }],
    ['missing URL', { headerUrl: undefined }],
    ['short MAC', { headerMac: 'abcd' }],
    ['non-hex MAC', { headerMac: 'z'.repeat(64) }],
    ['repeated header', { headerUrl: ['http://sender.onion:8000', 'http://sender.onion:8000'] }],
    ['not allowlisted', { allowlist: ['https://good.example'] }],
    ['tampered body', { body: REPLICATE_BODY + ' ' }],
    ['receiver has no secret', { settings: { peerSecrets: '', pushSecret: '' } }],
  ])('rejects: %s', (_name, override) => {
    const mac = peerMac(derivePeerKey('fleet-secret', 'http://sender.onion:8000'), REPLICATE_BODY);
    const input = { headerUrl: 'http://sender.onion:8000', headerMac: mac, body: REPLICATE_BODY, allowlist, settings, ...override };
    const r = verifyPeerRequest(input);
    expect(r.ok).toBe(false);
  });

  test('T50-style: MAC made with the wrong key is rejected', () => {
    const mac = peerMac(derivePeerKey('wrong-key', 'http://example-peer.onion:8000'), REPLICATE_BODY);
    const r = verifyPeerRequest({
      headerUrl: 'http://example-peer.onion:8000',
      headerMac: mac,
      body: REPLICATE_BODY,
      allowlist: ['http://example-peer.onion:8000'],
      settings,
    });
    expect(r.ok).toBe(false);
  });
});
