// What every peer route handler shares: its dependencies (ports, settings), the rate limiter and the peer allowlist.
import type { Logger } from 'pino';
import type { ChainPort } from '../ports/chain.js';
import type { MailboxPort } from '../ports/mailbox.js';
import type { Clock } from '../protocol/clock.js';
import { parsePeerList } from '../protocol/peer-url.js';
import { DEFAULT_RATE_LIMITS, type PeerRouteName } from '../protocol/peer-routes.js';
import type { Settings } from '../protocol/settings.js';
import { RateLimiter } from './rate-limit.js';

export interface PeerAppDeps {
  chain: Pick<ChainPort, 'head' | 'length' | 'heightOf' | 'readRange' | 'ingest'>;
  mailboxes: MailboxPort;
  settings: Settings;
  clock: Clock;
  logger?: Logger;
  /** Per-route budgets (requests per client and minute) replacing DEFAULT_RATE_LIMITS; `<= 0` disables one. */
  rateLimits?: Partial<Record<PeerRouteName, number>>;
  /** Called with the peer URL of every request that passed HMAC authentication (issue 8: contact clears the ladder). */
  onPeerContact?: (peerUrl: string) => void;
}

export interface PeerContext {
  readonly deps: PeerAppDeps;
  readonly limiter: RateLimiter;
  readonly limits: Readonly<Record<PeerRouteName, number>>;
  /** §8.2.6: the allowlist of push peers is MESH_RELAY_PEERS (this node has no peer-store push bucket). */
  readonly allowlist: readonly string[];
}

export function createPeerContext(deps: PeerAppDeps): PeerContext {
  return {
    deps,
    limiter: new RateLimiter(deps.clock),
    limits: { ...DEFAULT_RATE_LIMITS, ...(deps.rateLimits ?? {}) },
    allowlist: parsePeerList(deps.settings.peers.relayPeers),
  };
}
