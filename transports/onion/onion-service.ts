// Publishing the node's onion listener (§9.1.2): ADD_ONION with our own ED25519-V3 key (onion-key.ts), virtual
// port 80 forwarded to the DEDICATED onion listener on 127.0.0.1 — never the plain peer listener — so everything
// that arrives there came through Tor and is classified `via: 'onion'` by where it arrived, not by a header.
// The service belongs to our control connection (no Detach), and is re-added after every tor (re)start.
import { ErrorCodes, InfonetError } from '../../protocol/errors.js';
import type { OnionKey } from './onion-key.js';
import type { TorControl } from './tor-control.js';
import type { TorEndpoint, TorLog } from './tor-endpoint.js';

export const ONION_VIRTUAL_PORT = 80;

export async function addOnionService(control: TorControl, key: OnionKey, targetPort: number, virtualPort = ONION_VIRTUAL_PORT): Promise<string> {
  if (!Number.isInteger(targetPort) || targetPort < 1 || targetPort > 65535) throw new InfonetError(ErrorCodes.BAD_INPUT, `bad onion target port ${targetPort}`);
  // The key blob is a secret: `ok` reports tor's answer on failure, never the command line.
  const r = await control.ok(`ADD_ONION ${key.torKeyBlob} Flags=DiscardPK Port=${virtualPort},127.0.0.1:${targetPort}`, 'ADD_ONION');
  const id = r.lines.map((l) => /^ServiceID=([a-z2-7]{56})$/.exec(l)?.[1]).find(Boolean);
  if (id !== key.serviceId) {
    throw new InfonetError(ErrorCodes.UNAVAILABLE, `tor published ${id ?? 'no service'} instead of ${key.serviceId}`);
  }
  return id;
}

export interface PublishedOnion {
  url: string;
  /** Times the service was (re-)added. */
  published(): number;
}

/** Adds the service now (when tor is up) and again after every tor restart / reconnection. */
export async function publishOnionService(tor: TorEndpoint, key: OnionKey, targetPort: number, log: TorLog): Promise<PublishedOnion> {
  let count = 0;
  await tor.onReady(async (control) => {
    await addOnionService(control, key, targetPort);
    count++;
    log.info({ onion: key.url, target: `127.0.0.1:${targetPort}`, times: count }, 'onion service published');
  });
  return { url: key.url, published: () => count };
}
