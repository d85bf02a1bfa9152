// The one way this code base opens a client connection to the bus: URL + optional credentials file (bus/credentials.ts),
// connection failures as InfonetError UNAVAILABLE with a one-line reason (a refused credential says so).
import { connect, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import { ErrorCodes, InfonetError } from '../protocol/errors.js';
import { authenticatorFor, localCredentialsFor, readCredsFile, type BusCredentials } from './credentials.js';
import { classifyNatsError } from './nats-errors.js';

export interface BusConnectOptions {
  /** Credentials file path, or parsed credentials. Default: the operator credentials of a server this process started. */
  creds?: string | BusCredentials;
  name?: string;
  /** Passed through (e.g. maxReconnectAttempts: -1 for long-lived connections). */
  options?: Omit<ConnectionOptions, 'servers' | 'authenticator' | 'name'>;
}

export async function connectBus(url: string, opts: BusConnectOptions = {}): Promise<NatsConnection> {
  const credsArg = opts.creds ?? localCredentialsFor(url);
  const creds = typeof credsArg === 'string' ? readCredsFile(credsArg) : credsArg;
  try {
    return await connect({
      ...opts.options,
      servers: url,
      name: opts.name ?? 'infonet-client',
      ...(creds ? { authenticator: authenticatorFor(creds) } : {}),
    });
  } catch (e) {
    const kind = classifyNatsError(e);
    const msg = e instanceof Error ? e.message : String(e);
    const reason =
      kind === 'auth'
        ? `${url} refused the connection: ${creds ? `credentials not accepted (${msg})` : 'credentials required (--creds FILE)'}`
        : `cannot connect to ${url}: ${msg}`;
    throw new InfonetError(ErrorCodes.UNAVAILABLE, reason, { url });
  }
}
