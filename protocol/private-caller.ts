// Who may receive private (gate / DM) events in a sync response (spec §9.5.1–2).
// The decision rests only on the socket peer address and forwarding headers; the Host header and the
// request URL are never consulted, because any remote client can set them.
import { isIPv4, isIPv6 } from 'node:net';

/** Strips one `[...]` pair or one `:port` suffix; returns '' when the port part is not numeric. */
function stripPort(raw: string): string {
  const host = raw.trim().toLowerCase();
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    if (close < 0) return '';
    const rest = host.slice(close + 1);
    if (rest !== '' && !/^:\d+$/.test(rest)) return '';
    return host.slice(1, close);
  }
  const colons = host.split(':').length - 1;
  if (colons === 1) {
    const [name, port] = host.split(':');
    return /^\d+$/.test(port) ? name : '';
  }
  return host; // no port, or a bare IPv6 literal
}

function isLoopbackIPv6(addr: string): boolean {
  if (!isIPv6(addr)) return false;
  // The URL parser gives the canonical compressed form, so `0:0:0:0:0:0:0:1` and `::ffff:127.0.0.1` are
  // recognised too. IPv4-mapped 127/8 counts: a dual-stack listener reports IPv4 loopback clients that way.
  const canonical = new URL(`http://[${addr}]`).hostname;
  return canonical === '[::1]' || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(canonical);
}

/** `localhost`, `ip6-localhost`, 127.0.0.0/8 or ::1, with brackets and a single `:port` allowed. */
export function isLoopbackHost(raw: string | undefined | null): boolean {
  if (typeof raw !== 'string') return false;
  const host = stripPort(raw);
  if (host === '') return false;
  if (host === 'localhost' || host === 'ip6-localhost') return true;
  if (isIPv4(host)) return host.split('.')[0] === '127';
  return isLoopbackIPv6(host);
}

/** A Tor onion service name (`<label>.onion`), a single `:port` allowed. */
export function isOnionHost(raw: string | undefined | null): boolean {
  if (typeof raw !== 'string') return false;
  const host = stripPort(raw);
  return host.length > '.onion'.length && host.endsWith('.onion');
}

const isPrivateHost = (h: string): boolean => isLoopbackHost(h) || isOnionHost(h);

export type HeaderBag = Readonly<Record<string, string | readonly string[] | undefined>>;

/** Header lookup by lower-case name; repeated header lines are joined as one comma list. */
function header(headers: HeaderBag, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() !== name || v === undefined) continue;
    return typeof v === 'string' ? v : v.join(',');
  }
  return undefined;
}

/** Every `for=` value of an RFC 7239 `Forwarded` header, quotes removed; null when malformed. */
function forwardedForValues(value: string): string[] | null {
  const out: string[] = [];
  for (const element of value.split(',')) {
    for (const pair of element.split(';')) {
      if (pair.trim() === '') continue;
      const eq = pair.indexOf('=');
      if (eq < 0) return null;
      if (pair.slice(0, eq).trim().toLowerCase() !== 'for') continue;
      out.push(pair.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1'));
    }
  }
  return out;
}

export interface PrivateCallerInput {
  /** The socket's peer address (`req.socket.remoteAddress`). */
  remoteAddress: string | undefined;
  headers: HeaderBag;
  /** MESH_INFONET_ALLOW_CLEARNET_SYNC: when true private events are never served (§9.5.1). */
  allowClearnetSync: boolean;
}

/**
 * True only when the immediate client and every forwarded-for hop are loopback or onion (§9.5.1).
 * Fail closed: an empty or unparseable forwarding entry, or a `Forwarded` header naming no `for=` hop,
 * counts as a public hop.
 */
export function includePrivateEvents({ remoteAddress, headers, allowClearnetSync }: PrivateCallerInput): boolean {
  if (allowClearnetSync) return false;
  if (!remoteAddress || !isPrivateHost(remoteAddress)) return false;

  const xff = header(headers, 'x-forwarded-for');
  if (xff !== undefined && !xff.split(',').every((h) => isPrivateHost(h))) return false;

  const fwd = header(headers, 'forwarded');
  if (fwd !== undefined) {
    const hops = forwardedForValues(fwd);
    if (hops === null || hops.length === 0 || !hops.every((h) => isPrivateHost(h))) return false;
  }
  return true;
}
