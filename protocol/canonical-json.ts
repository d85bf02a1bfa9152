// Canonical JSON (§2.4): object keys sorted by Unicode code point at every depth, no whitespace,
// raw UTF-8 for non-ASCII, JSON.stringify's escaping for control characters. Integers print as plain
// decimals; non-integral numbers use Python's float repr so hashes match the original.
import { pythonFloatRepr } from './python-float.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function compareCodePoints(a: string, b: string): number {
  // UTF-16 order equals code-point order except around surrogates; only astral keys need the slow path.
  if (a === b) return 0;
  const len = Math.min(a.length, b.length);
  for (let i = 0; i < len; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca !== cb) {
      if (ca >= 0xd800 && ca <= 0xdfff || cb >= 0xd800 && cb <= 0xdfff) {
        const pa = a.codePointAt(i)!;
        const pb = b.codePointAt(i)!;
        if (pa !== pb) return pa < pb ? -1 : 1;
      }
      return ca < cb ? -1 : 1;
    }
  }
  return a.length - b.length;
}

export function sortedKeys(obj: object): string[] {
  const keys = Object.keys(obj);
  const n = keys.length;
  if (n > 24) return keys.sort(compareCodePoints);
  // Payloads have a handful of keys: an in-place insertion sort (same order, keys are distinct) does
  // not allocate the work array Array.prototype.sort does on every call (the append hot path, issue 14).
  for (let i = 1; i < n; i++) {
    const k = keys[i];
    let j = i - 1;
    while (j >= 0 && compareCodePoints(keys[j], k) > 0) {
      keys[j + 1] = keys[j];
      j--;
    }
    keys[j + 1] = k;
  }
  return keys;
}

// `"key":` texts, reused across calls (payload keys repeat on every event). Keys come from outsiders,
// so the cache is bounded: cleared when full.
const QUOTED_KEYS_MAX = 4096;
const quotedKeys = new Map<string, string>();

function quotedKey(k: string): string {
  let q = quotedKeys.get(k);
  if (q === undefined) {
    q = JSON.stringify(k) + ':';
    if (quotedKeys.size >= QUOTED_KEYS_MAX) quotedKeys.clear();
    quotedKeys.set(k, q);
  }
  return q;
}

function numberText(n: number): string {
  if (!Number.isFinite(n)) throw new TypeError('canonical JSON cannot encode a non-finite number');
  return Number.isInteger(n) && Math.abs(n) < 1e21 ? (Object.is(n, -0) ? '0' : String(n)) : pythonFloatRepr(n);
}

export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return numberText(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) out += (i ? ',' : '') + canonicalJson(value[i]);
        return out + ']';
      }
      let out = '{';
      let first = true;
      for (const k of sortedKeys(value)) {
        const v = (value as Record<string, unknown>)[k];
        if (v === undefined) continue;
        out += (first ? quotedKey(k) : ',' + quotedKey(k)) + canonicalJson(v);
        first = false;
      }
      return out + '}';
    }
    default:
      throw new TypeError(`canonical JSON cannot encode ${typeof value}`);
  }
}

/** UTF-8 byte length of a string without allocating a buffer. */
export function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}
