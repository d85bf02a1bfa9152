// Signing an event locally with the author's own key (CLI, harness, benchmarks).
import type { AppendInput } from './append-rules.js';
import { payloadToSign } from './append-rules.js';
import type { Identity } from './identity.js';
import { signaturePayload } from './signature-payload.js';
import { signEd25519 } from './signatures.js';

/** The append input without its signature (filled in by whoever signs, possibly off-thread). */
export function signAppendUnsigned(id: Identity, eventType: string, payload: Record<string, unknown>, sequence: number, timestamp?: number): Omit<AppendInput, 'signature'> {
  return {
    event_type: eventType,
    node_id: id.nodeId,
    payload,
    sequence,
    public_key: id.publicKey,
    public_key_algo: id.publicKeyAlgo,
    ...(timestamp !== undefined ? { timestamp } : {}),
  };
}

export function signAppend(id: Identity, eventType: string, payload: Record<string, unknown>, sequence: number, timestamp?: number): AppendInput {
  const signed = payloadToSign(eventType, payload);
  return { ...signAppendUnsigned(id, eventType, payload, sequence, timestamp), signature: signEd25519(id.privateKey, signaturePayload(eventType, id.nodeId, sequence, signed)) };
}
