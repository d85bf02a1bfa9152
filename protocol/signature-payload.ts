// §2.4: the exact string every author signs. Not covered: timestamp, prev_hash, event_id, public key
// fields — position and time are bound only by event_id.
import { canonicalJson } from './canonical-json.js';
import { NETWORK_ID, PROTOCOL_VERSION } from './constants.js';

export function signaturePayload(eventType: string, nodeId: string, sequence: number, payload: unknown): string {
  return signatureText(eventType, nodeId, sequence, canonicalJson(payload));
}

/** The same string from the payload's canonical JSON, when the caller already has it (local appends). */
export function signatureText(eventType: string, nodeId: string, sequence: number, payloadJson: string): string {
  return `${PROTOCOL_VERSION}|${NETWORK_ID}|${eventType}|${nodeId}|${sequence}|${payloadJson}`;
}
