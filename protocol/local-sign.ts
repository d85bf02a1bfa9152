// Signing an event locally with the author's own key (CLI, harness, benchmarks).
import type { AppendInput } from './append-rules.js';
import { payloadToSign } from './append-rules.js';
import type { Identity } from './identity.js';
import { signaturePayload } from './signature-payload.js';
import { signEd25519 } from './signatures.js';

export function signAppend(id: Identity, eventType: string, payload: Record<string, unknown>, sequence: number, timestamp?: number): AppendInput {
  const signed = payloadToSign(eventType, payload);
  return {
    event_type: eventType,
    node_id: id.nodeId,
    payload,
    sequence,
    signature: signEd25519(id.privateKey, signaturePayload(eventType, id.nodeId, sequence, signed)),
    public_key: id.publicKey,
    public_key_algo: id.publicKeyAlgo,
    ...(timestamp !== undefined ? { timestamp } : {}),
  };
}
