// How every CLI command reaches a running node: `--nats URL [--creds FILE] --node ID` (docs/bus-auth.md).
// --creds defaults to $INFONET_NATS_CREDS. Connection failures become usage-level errors (exit 2) with one line.
import type { NatsConnection } from '@nats-io/transport-node';
import { InfonetClient } from '../bus/client.js';
import { connectBus } from '../bus/connect.js';
import { isInfonetError } from '../protocol/errors.js';
import { UsageError } from './args.js';

/** parseArgs options every bus-capable command accepts. */
export const BUS_CLI_OPTIONS = { nats: { type: 'string' }, node: { type: 'string' }, creds: { type: 'string' } } as const;

export interface BusArgs {
  nats?: string;
  creds?: string;
  node?: string;
  name?: string;
  timeoutMs?: number;
}

function credsOf(a: BusArgs): string | undefined {
  return a.creds ?? (process.env.INFONET_NATS_CREDS || undefined);
}

/** A NATS connection from `--nats URL [--creds FILE]`. */
export async function connectFromArgs(a: BusArgs): Promise<NatsConnection> {
  const url = a.nats ?? process.env.INFONET_NATS_URL;
  if (!url) throw new UsageError('--nats URL is required');
  try {
    return await connectBus(url, { creds: credsOf(a), name: a.name ?? 'infonet-cli' });
  } catch (e) {
    throw new UsageError(isInfonetError(e) ? e.reason : (e as Error).message);
  }
}

/** A typed client for `--node ID` over `--nats URL [--creds FILE]`; close() closes the connection. */
export async function clientFromArgs(a: BusArgs): Promise<InfonetClient> {
  if (!a.node) throw new UsageError('--node ID is required with --nats');
  const nc = await connectFromArgs(a);
  const timeoutMs = a.timeoutMs ?? (Number(process.env.INFONET_TIMEOUT_MS) || 5000);
  return new InfonetClient(nc, a.node, timeoutMs, true);
}
