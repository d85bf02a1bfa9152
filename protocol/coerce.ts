// Value coercions shared by the payload normalisers (the original's str()/int() on payload fields).

/** A field as a string: undefined/null become "", anything else its String() form. */
export const toStr = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));

/** A field as an integer truncated toward zero; non-numeric values become 0. */
export const toInt = (v: unknown): number => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : typeof v === 'boolean' ? Number(v) : 0;
  return Number.isFinite(n) ? Math.trunc(n) : 0;
};
