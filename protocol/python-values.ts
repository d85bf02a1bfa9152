// The original's value semantics that the public payload schemas depend on (Appendix D "Exact forms"):
// str()/int()/float() conversions, `==` across bool/int/float, its whitespace set, code-point lengths.
// Chains it wrote are only re-validated byte-for-byte if these match, so they are spelled out here
// instead of borrowing JavaScript's (String(true) is "true", trim() strips U+FEFF but not U+0085, ...).
import { pythonFloatRepr } from './python-float.js';

/** Characters str.isspace()/str.strip() treat as whitespace (Appendix D); all are in the BMP. */
const PY_WHITESPACE: ReadonlySet<number> = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680,
  0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a,
  0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);

export const isPyWhitespace = (code: number): boolean => PY_WHITESPACE.has(code);

/** "Blank": empty, or only whitespace in the original's sense (U+FEFF and U+200B are not whitespace). */
export function isPyBlank(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (!PY_WHITESPACE.has(s.charCodeAt(i))) return false;
  return true;
}

/** str.strip() with no argument. */
export function pyStrip(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && PY_WHITESPACE.has(s.charCodeAt(a))) a++;
  while (b > a && PY_WHITESPACE.has(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** The first `n` code points (an emoji is one character, as in the original's slicing). */
export function cutCodePoints(s: string, n: number): string {
  if (s.length <= n) return s; // n UTF-16 units hold at most n code points
  let units = 0;
  let count = 0;
  while (units < s.length && count < n) {
    const c = s.charCodeAt(units);
    units += c >= 0xd800 && c <= 0xdbff && units + 1 < s.length && (s.charCodeAt(units + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
    count++;
  }
  return s.slice(0, units);
}

export function codePointLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) i++;
    n++;
  }
  return n;
}

function pyRepr(v: unknown): string {
  if (typeof v === 'string') return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  if (v !== null && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`).join(', ')}}`;
  return pyStr(v);
}

/** str(v). Any non-string input yields a string, so it can never be a fixed point of normalisation. */
export function pyStr(v: unknown): string {
  switch (typeof v) {
    case 'string': return v;
    case 'boolean': return v ? 'True' : 'False';
    case 'number': return Number.isInteger(v) && Math.abs(v) < 1e21 ? String(v) : Number.isFinite(v) ? pythonFloatRepr(v) : v > 0 ? 'inf' : v < 0 ? '-inf' : 'nan';
    case 'undefined': return '';
    default: return v === null ? 'None' : pyRepr(v);
  }
}

const INT_TEXT = /^[+-]?\d+(?:_\d+)*$/;
const FLOAT_TEXT = /^[+-]?(?:\d+(?:_\d+)*(?:\.(?:\d+(?:_\d+)*)?)?|\.\d+(?:_\d+)*)(?:[eE][+-]?\d+(?:_\d+)*)?$/;

/** int() with 0 for anything unconvertible: bools 1/0, floats truncated, decimal-integer strings. */
export function pyInt(v: unknown): number {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number') return Number.isFinite(v) ? Math.trunc(v) + 0 : 0;
  if (typeof v === 'string') {
    const s = pyStrip(v);
    return INT_TEXT.test(s) ? Number(s.replace(/_/g, '')) + 0 : 0;
  }
  return 0;
}

/**
 * float() then an integral value as an integer (5.0 → 5), 0 when unconvertible. Infinities and NaN,
 * which JSON cannot carry, also become 0.
 */
export function pyNum(v: unknown): number {
  let n: number;
  if (typeof v === 'boolean') n = v ? 1 : 0;
  else if (typeof v === 'number') n = v;
  else if (typeof v === 'string') {
    const s = pyStrip(v);
    n = FLOAT_TEXT.test(s) ? Number(s.replace(/_/g, '')) : 0;
  } else n = 0;
  return Number.isFinite(n) ? n + 0 : 0; // + 0 turns -0 into 0, as int(-0.0) does
}

/** bool(v): Python truthiness of a JSON value. */
export function pyBool(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (v !== null && typeof v === 'object') return Object.keys(v).length > 0;
  return Boolean(v);
}

const isNumeric = (v: unknown): v is number | boolean => typeof v === 'number' || typeof v === 'boolean';

/** The original's `==` on JSON values: True == 1, False == 0, 5 == 5.0; "5" != 5; dicts by key set. */
export function pyEquals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (isNumeric(a) && isNumeric(b)) return Number(a) === Number(b);
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!pyEquals(a[i], b[i])) return false;
    return true;
  }
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object' || Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
    if (!pyEquals((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}
