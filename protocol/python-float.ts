// Python's repr(float), which the original uses to print timestamps inside the event-id preimage (§2.5).
// Shortest round-trip digits (same as JS), but: integral values keep a trailing ".0", and the exponent
// form is used when the decimal exponent is < -4 or >= 16, written as e-05 / e+16 (at least 2 digits).

export function pythonFloatRepr(x: number): string {
  // Fast path (every timestamp: ids are hashed and events served with it). In [1e-4, 1e16) Python prints the
  // decimal form, and so does JS's String() (it switches to exponents only below 1e-6 and from 1e21), with the
  // same shortest digits as toExponential() below; only an integral value needs Python's ".0".
  const a = Math.abs(x);
  if (a >= 1e-4 && a < 1e16) {
    const s = String(x);
    return Number.isInteger(x) ? s + '.0' : s;
  }
  if (!Number.isFinite(x)) throw new RangeError(`not a finite number: ${x}`);
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mant, expText] = x.toExponential().split('e');
  const exp = Number(expText);
  const negative = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '');
  const sign = negative ? '-' : '';
  if (exp >= -4 && exp < 16) {
    let text: string;
    if (exp < 0) {
      text = '0.' + '0'.repeat(-exp - 1) + digits;
    } else if (digits.length <= exp + 1) {
      text = digits + '0'.repeat(exp + 1 - digits.length) + '.0';
    } else {
      text = digits.slice(0, exp + 1) + '.' + digits.slice(exp + 1);
    }
    return sign + text;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const e = Math.abs(exp).toString().padStart(2, '0');
  return `${sign}${m}e${exp < 0 ? '-' : '+'}${e}`;
}

/** The bare-integer rendering used by legacy events stored with integer timestamps (§2.5 rule 3). */
export function integerText(x: number): string {
  return BigInt(x).toString();
}
