// Reading received events without losing number literals (Appendix D "Received literal forms survive").
// JSON.parse turns `5.0` into 5, so a payload that arrived as {"amount":5.0} would re-hash as
// {"amount":5} and its event_id would no longer match. Events whose payload holds such a literal get
// `payload_literal`: the canonical JSON of the payload exactly as the original prints it (floats in
// repr form, big integers in full). Everything else is what JSON.parse gives; when the text holds no
// float or big-integer literal at all (the common case) it is JSON.parse itself.
import { canonicalJson, sortedKeys } from './canonical-json.js';
import { pythonFloatRepr } from './python-float.js';
import { isPlainObject } from './signed-context.js';

/** A number literal JavaScript cannot keep: a float form (`5.0`, `1e16`) or an integer beyond 2^53. */
class NumberLiteral {
  constructor(readonly text: string, readonly isFloat: boolean) {}
  get value(): number { return Number(this.text); }
}

const NUMBER_RE = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

class Parser {
  i = 0;
  literals = 0;
  constructor(private readonly s: string) {}

  fail(): never { throw new SyntaxError(`Unexpected token in JSON at position ${this.i}`); }

  ws(): void { while (this.i < this.s.length && WS.has(this.s.charCodeAt(this.i))) this.i++; }

  value(): unknown {
    this.ws();
    const c = this.s[this.i];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    if (c === 't' && this.s.startsWith('true', this.i)) { this.i += 4; return true; }
    if (c === 'f' && this.s.startsWith('false', this.i)) { this.i += 5; return false; }
    if (c === 'n' && this.s.startsWith('null', this.i)) { this.i += 4; return null; }
    return this.number();
  }

  number(): unknown {
    NUMBER_RE.lastIndex = this.i;
    const m = NUMBER_RE.exec(this.s);
    if (!m) this.fail();
    this.i += m[0].length;
    const text = m[0];
    const isFloat = /[.eE]/.test(text);
    const n = Number(text);
    if (isFloat || !Number.isSafeInteger(n)) {
      this.literals++;
      return new NumberLiteral(text, isFloat);
    }
    return n;
  }

  string(): string {
    const start = this.i;
    let j = start + 1;
    for (;;) {
      const k = this.s.indexOf('"', j);
      if (k < 0) this.fail();
      let bs = 0;
      while (this.s[k - 1 - bs] === '\\') bs++;
      j = k + 1;
      if (bs % 2 === 0) break;
    }
    this.i = j;
    return JSON.parse(this.s.slice(start, j)) as string; // validates escapes and control characters
  }

  array(): unknown[] {
    this.i++;
    const out: unknown[] = [];
    this.ws();
    if (this.s[this.i] === ']') { this.i++; return out; }
    for (;;) {
      out.push(this.value());
      this.ws();
      const c = this.s[this.i++];
      if (c === ']') return out;
      if (c !== ',') this.fail();
    }
  }

  object(): Record<string, unknown> {
    this.i++;
    const out: Record<string, unknown> = {};
    this.ws();
    if (this.s[this.i] === '}') { this.i++; return out; }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail();
      const k = this.string();
      this.ws();
      if (this.s[this.i++] !== ':') this.fail();
      // defineProperty: a "__proto__" key must stay an own property, as with JSON.parse
      Object.defineProperty(out, k, { value: this.value(), enumerable: true, writable: true, configurable: true });
      this.ws();
      const c = this.s[this.i++];
      if (c === '}') return out;
      if (c !== ',') this.fail();
    }
  }
}

/** Canonical JSON as the original prints it: float literals in repr form, integers in full. */
function literalCanonical(v: unknown): string {
  if (v instanceof NumberLiteral) return v.isFloat ? pythonFloatRepr(v.value) : BigInt(v.text).toString();
  if (Array.isArray(v)) return '[' + v.map(literalCanonical).join(',') + ']';
  if (isPlainObject(v)) {
    const parts: string[] = [];
    for (const k of sortedKeys(v)) parts.push(JSON.stringify(k) + ':' + literalCanonical(v[k]));
    return '{' + parts.join(',') + '}';
  }
  return canonicalJson(v);
}

function plain(v: unknown): unknown {
  if (v instanceof NumberLiteral) return v.value;
  if (Array.isArray(v)) return v.map(plain);
  if (isPlainObject(v)) {
    for (const k of Object.keys(v)) v[k] = plain(v[k]);
  }
  return v;
}

/** Any object shaped like an event gets its payload's literal form; the rest becomes plain JSON. */
function settle(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(settle);
  if (!isPlainObject(v) || v instanceof NumberLiteral) return plain(v);
  if (typeof v.event_type === 'string' && isPlainObject(v.payload)) {
    let literal: string | null;
    try {
      literal = literalCanonical(v.payload);
    } catch {
      literal = null; // e.g. 1e400: no finite form; the event then fails its id check like any bad event
    }
    const payload = plain(v.payload);
    for (const k of Object.keys(v)) if (k !== 'payload') v[k] = plain(v[k]);
    v.payload = payload;
    if (literal !== null) {
      let usual: string | null;
      try { usual = canonicalJson(payload); } catch { usual = null; }
      if (literal !== usual) v.payload_literal = literal;
    }
    return v;
  }
  for (const k of Object.keys(v)) v[k] = settle(v[k]);
  return v;
}

// Only a float literal with an integral value prints differently here (5.0 → 5; non-integral floats
// print as the original's repr anyway), or an integer beyond 2^53. Outside strings such a literal has
// an all-zero fraction, an exponent, a fraction long enough to round to an integer, or 16+ digits.
const LOSSY_RE = /\d\.0+(?!\d)|\d[eE]|\.\d{15}|\d{16}/;

/**
 * LOSSY_RE outside strings. Strings are skipped with indexOf (a sync page is mostly string bytes: ids, keys,
 * signatures, ciphertext); only the short stretches between them that hold a digit are tested. Text that ends
 * inside a string answers false (JSON.parse then refuses it).
 */
function lossyOutsideStrings(s: string): boolean {
  let i = 0;
  for (;;) {
    const q = s.indexOf('"', i);
    const end = q < 0 ? s.length : q;
    for (let k = i; k < end; k++) {
      const c = s.charCodeAt(k);
      if (c >= 0x30 && c <= 0x39) {
        if (LOSSY_RE.test(s.slice(k, end))) return true;
        break;
      }
    }
    if (q < 0) return false;
    // the closing quote: the next one not escaped by an odd run of backslashes
    let j = q + 1;
    for (;;) {
      const k = s.indexOf('"', j);
      if (k < 0) return false;
      let bs = 0;
      while (s.charCodeAt(k - 1 - bs) === 0x5c) bs++;
      j = k + 1;
      if (bs % 2 === 0) break;
    }
    i = j;
  }
}

/**
 * JSON.parse for text that may hold received events (a chain file, a sync page, an ingest body):
 * every event-shaped object whose payload holds a float or big-integer literal keeps that form in
 * `payload_literal` (see above). Throws SyntaxError like JSON.parse.
 */
export function parseEventsJson(text: string): unknown {
  if (!lossyOutsideStrings(text)) return JSON.parse(text);
  const p = new Parser(text);
  let tree: unknown;
  try {
    tree = p.value();
    p.ws();
  } catch (e) {
    if (e instanceof RangeError) throw new SyntaxError('JSON nested too deeply');
    throw e;
  }
  if (p.i !== text.length) p.fail();
  return p.literals === 0 ? tree : settle(tree);
}

/**
 * Is `literal` the canonical text (as the original prints it) of a payload whose plain JSON value has
 * canonical JSON `usual`? Only then may it stand in for the payload in an event id: a non-canonical
 * literal (`5.000`) would make this node accept ids the original computes differently.
 */
export function isLiteralOf(literal: string, usual: string): boolean {
  try {
    const p = new Parser(literal);
    const tree = p.value();
    p.ws();
    if (p.i !== literal.length || literalCanonical(tree) !== literal) return false;
    return canonicalJson(plain(tree)) === usual;
  } catch {
    return false;
  }
}
