// Pure rules around one outbound peer call (§8.3.4, §9.1, §9.6), shared by the transports that make calls and the
// actors that decide about them — here so neither folder imports the other (issue 9).
import { ErrorCodes, InfonetError } from './errors.js';
import { isPrivateTransport, normalizePeerUrl, transportKind, type TransportKind } from './peer-url.js';

export const unreachable = (peer: string, why: string): InfonetError =>
  new InfonetError(ErrorCodes.UNAVAILABLE, `peer ${peer} unreachable: ${why}`, { peer });

export const timedOut = (peer: string, ms: number): InfonetError =>
  new InfonetError(ErrorCodes.TIMEOUT, `peer ${peer} did not answer within ${ms} ms`, { peer, timeout_ms: ms });

/** The §9.1 error text, verbatim from the original. */
export const PRIVATE_TRANSPORT_ERROR = 'private Infonet requires onion/RNS transport; no clearnet sync fallback';

export const privateTransportRequired = (peer: string): InfonetError =>
  new InfonetError(ErrorCodes.PRIVATE_TRANSPORT_REQUIRED, PRIVATE_TRANSPORT_ERROR, { peer });

/** Retryable transport failures (the peer may answer later); everything else is final for the item. */
export function isRetryableTransportError(e: unknown): boolean {
  return e instanceof InfonetError && (e.code === ErrorCodes.UNAVAILABLE || e.code === ErrorCodes.TIMEOUT);
}

/** Push timeout (§8.3.4): `max(180 if onion else 1, MESH_RELAY_PUSH_TIMEOUT_S)` seconds, in ms. */
export function pushTimeoutMs(peer: string, relayPushTimeoutS: number): number {
  const floor = transportKind(peer) === 'onion' ? 180 : 1;
  return Math.max(floor, relayPushTimeoutS) * 1000;
}

/** May private mode contact this peer at all (§9.1)? Checked before any socket is opened. */
export function peerAllowed(peer: string, allowClearnet: boolean): boolean {
  const kind: TransportKind = transportKind(normalizePeerUrl(peer));
  return allowClearnet ? kind !== '' : isPrivateTransport(kind);
}

/** The answer's JSON (structured from the bus, parsed from bytes otherwise), or undefined when it is not JSON. */
export function responseJson(r: { json?: unknown; body: Uint8Array }): unknown {
  if (r.json !== undefined) return r.json;
  if (r.body.length === 0) return undefined;
  try {
    return JSON.parse(Buffer.from(r.body).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
