// §1.1.1: ECDSA P-256 keys (SEC1 point in public_key, DER signatures over SHA-256) are accepted too.
import { generateKeyPairSync, sign } from 'node:crypto';
import { applyEvent, emptyChainState } from '../../protocol/chain-state.js';
import { GENESIS_HASH, NETWORK_ID, PROTOCOL_VERSION } from '../../protocol/constants.js';
import { computeEventId } from '../../protocol/event-id.js';
import { nodeIdFromPublicKeyBytes } from '../../protocol/identity.js';
import { defaultSettings } from '../../protocol/settings.js';
import { signaturePayload } from '../../protocol/signature-payload.js';
import { validateReceivedEvent } from '../../protocol/validate-event.js';

test('ECDSA P-256 authored events verify on ingest; a flipped signature byte is rejected', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  const nodeId = nodeIdFromPublicKeyBytes(point);
  const payload = { message: 'p256', destination: 'broadcast', channel: 'LongFast', priority: 'normal', ephemeral: false };
  const signature = sign('sha256', Buffer.from(signaturePayload('message', nodeId, 1, payload)), { key: privateKey, dsaEncoding: 'der' }).toString('hex');
  const base = { prev_hash: GENESIS_HASH, event_type: 'message', node_id: nodeId, payload, timestamp: 1700000000, sequence: 1, network_id: NETWORK_ID };
  const ev = { ...base, event_id: computeEventId(base), signature, public_key: point.toString('base64'), public_key_algo: 'ECDSA_P256', protocol_version: PROTOCOL_VERSION };
  const ctx = { settings: defaultSettings().chain, clock: () => 1700000000, maxAgeS: 0 };
  const ok = validateReceivedEvent(emptyChainState(), ev, ctx);
  expect(ok.kind).toBe('accepted');
  const state = emptyChainState();
  if (ok.kind === 'accepted') applyEvent(state, ok.event);
  expect(state.length).toBe(1);
  const tampered = { ...ev, signature: (ev.signature.slice(0, -2) + (ev.signature.endsWith('00') ? '01' : '00')) };
  const bad = validateReceivedEvent(emptyChainState(), tampered, ctx);
  expect(bad.kind === 'rejected' && bad.rejection.reason).toBe('Invalid signature');
});
