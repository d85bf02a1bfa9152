// Peer URL normalisation and transport classification (spec §8.1, vectors in Appendix A.6).
// The normalised form is what HMAC keys are derived from (§8.2), so it must match byte for byte.
import { isIPv6 } from 'node:net';
import { isLoopbackHost } from './private-caller.js';

export type TransportKind = 'onion' | 'clearnet' | 'loopback' | 'rns' | 'bus' | '';

interface ParsedPeerUrl {
  scheme: string;
  /** Lower-cased; IPv6 literals keep their brackets. */
  host: string;
  /** Decimal port, '' when absent or the scheme default. */
  port: string;
  path: string;
}

// Follows Python's urlsplit split rules (the original's parser) rather than WHATWG URL, which would
// rewrite paths, punycode hosts and drop default ports of other schemes.
function parsePeerUrl(input: string): ParsedPeerUrl | null {
  const url = input.trim().replace(/[\t\r\n]/g, '');
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)/.exec(url);
  if (!m) return null;
  const scheme = m[1].toLowerCase();
  const hostinfo = m[2].slice(m[2].lastIndexOf('@') + 1);

  let host: string;
  let portText: string;
  if (hostinfo.startsWith('[')) {
    const close = hostinfo.indexOf(']');
    if (close < 0) return null;
    const literal = hostinfo.slice(1, close).toLowerCase();
    if (!isIPv6(literal)) return null;
    // [tightening] brackets are kept so that an IPv6 peer still yields a usable URL.
    host = `[${literal}]`;
    const rest = hostinfo.slice(close + 1);
    portText = rest.startsWith(':') ? rest.slice(1) : '';
  } else {
    const colon = hostinfo.indexOf(':');
    host = (colon < 0 ? hostinfo : hostinfo.slice(0, colon)).toLowerCase();
    portText = colon < 0 ? '' : hostinfo.slice(colon + 1);
  }
  if (host === '') return null;

  let port = '';
  if (portText !== '') {
    if (!/^\d+$/.test(portText)) return null;
    const n = Number(portText);
    if (n > 65535) return null;
    const isDefault = (scheme === 'https' && n === 443) || (scheme === 'http' && n === 80);
    port = isDefault ? '' : String(n);
  }
  return { scheme, host, port, path: m[3].replace(/\/+$/, '') };
}

/** `scheme://host[:port][path]`, or '' when the scheme or host is missing (§8.1). */
export function normalizePeerUrl(url: string | null | undefined): string {
  if (typeof url !== 'string') return '';
  const p = parsePeerUrl(url);
  if (!p) return '';
  return `${p.scheme}://${p.host}${p.port ? `:${p.port}` : ''}${p.path}`;
}

/**
 * Transport of a normalised peer URL. `loopback` (localhost / 127.0.0.0/8 / ::1 over http(s)), `rns`
 * (`rns://<32-hex destination hash>`) and `bus` (`nats://<node id>`, the NATS federation) are the
 * TS node's extensions to the original's onion/clearnet split (§8.1).
 */
export function transportKind(normalizedUrl: string): TransportKind {
  const p = parsePeerUrl(normalizedUrl);
  if (!p) return '';
  if (p.scheme === 'http' || p.scheme === 'https') {
    if (p.scheme === 'http' && p.host.endsWith('.onion')) return 'onion';
    if (isLoopbackHost(p.host)) return 'loopback';
    return 'clearnet';
  }
  if (p.scheme === 'rns') return /^[0-9a-f]{32}$/.test(p.host) ? 'rns' : '';
  if (p.scheme === 'nats') return 'bus';
  return '';
}

/** Transports that private mode may use (§9.1). */
export function isPrivateTransport(kind: TransportKind | string): boolean {
  return kind === 'onion' || kind === 'rns' || kind === 'loopback' || kind === 'bus';
}

/** A comma list of peer URLs, normalised, de-duplicated in first-seen order, empties dropped. */
export function parsePeerList(csv: string | null | undefined): string[] {
  if (!csv) return [];
  const seen = new Set<string>();
  for (const item of csv.split(',')) {
    const url = normalizePeerUrl(item);
    if (url) seen.add(url);
  }
  return [...seen];
}
