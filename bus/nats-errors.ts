// The one place that tells NATS client failures apart (no responders, timeout, permission denied, refused credentials)
// — the codec, the CLI, the recorder and the bus transport used to carry a copy each. Works on the error classes of
// @nats-io/nats-core 3.x and on the names/causes they wrap, so a RequestError around a NoRespondersError counts too.
import { errors as natsErrors } from '@nats-io/transport-node';

export type NatsFailure = 'no_responders' | 'timeout' | 'permission' | 'auth' | 'closed' | 'other';

function chain(e: unknown): Error[] {
  const out: Error[] = [];
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur instanceof Error; i++) {
    out.push(cur);
    cur = cur.cause;
  }
  return out;
}

/** Classifies an error thrown by connect(), request() or a subscription. */
export function classifyNatsError(e: unknown): NatsFailure {
  const errs = chain(e);
  for (const x of errs) {
    const withFn = x as Error & { isNoResponders?: () => boolean; isPermissionError?: () => boolean };
    if (x instanceof natsErrors.NoRespondersError || x.name === 'NoRespondersError') return 'no_responders';
    if (typeof withFn.isNoResponders === 'function' && withFn.isNoResponders()) return 'no_responders';
    if (x instanceof natsErrors.TimeoutError || x.name === 'TimeoutError') return 'timeout';
    if (x instanceof natsErrors.PermissionViolationError || /permissions violation/i.test(x.message)) return 'permission';
    if (x instanceof natsErrors.AuthorizationError || /authorization violation|authentication/i.test(x.message)) return 'auth';
    if (x instanceof natsErrors.ClosedConnectionError || x.name === 'ClosedConnectionError') return 'closed';
  }
  return 'other';
}

export const isNoResponders = (e: unknown): boolean => classifyNatsError(e) === 'no_responders';
export const isNatsTimeout = (e: unknown): boolean => classifyNatsError(e) === 'timeout';
export const isPermissionDenied = (e: unknown): boolean => classifyNatsError(e) === 'permission';
export const isAuthRefused = (e: unknown): boolean => classifyNatsError(e) === 'auth';
