// Signing an event locally with the author's own key (CLI, harness, benchmarks).
import type { AppendInput, PreparedPayload } from './append-rules.js';
import { normalizeLedgerPayload, payloadToSign, signedPartOf } from './append-rules.js';
import { canonicalJson } from './canonical-json.js';
import { isIngestEventType } from './constants.js';
import type { Identity } from './identity.js';
import { isPlainObject } from './signed-context.js';
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

/**
 * Normalise a local append's payload once, at call time: the stored form and its canonical JSON (what
 * event_id hashes) and the JSON the author signs, so neither the signer nor the validator redoes them
 * (validateLocalAppend takes it as `prepared` and still runs every check). Null when the type is not
 * routable or the normaliser refuses the payload: the validator then rejects it as usual.
 */
export function prepareLocalPayload(eventType: string, raw: Record<string, unknown>): PreparedPayload | null {
  if (!isPlainObject(raw) || !isIngestEventType(eventType)) return null;
  try {
    const payload = normalizeLedgerPayload(eventType, raw);
    const json = canonicalJson(payload);
    const signed = signedPartOf(eventType, payload);
    return { source: raw, eventType, payload, json, signedJson: signed === payload ? json : canonicalJson(signed) };
  } catch {
    return null;
  }
}
