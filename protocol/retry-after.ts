// Retry-After header parsing (spec §9.6): delay-seconds or an HTTP-date, clamped to [0, 3600] so a
// hostile or broken peer cannot park this node for days.

export const MAX_RETRY_AFTER_S = 3600;

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const MON = '(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*';
const TIME = '(\\d{1,2}):(\\d{2})(?::(\\d{2}))?';
const ZONE = '(gmt|utc|ut|z|[+-]\\d{4})?';

// The three RFC 7231 §7.1.1.1 forms, read leniently like the original's email.utils parser:
// IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT",
// asctime "Sun Nov  6 08:49:37 1994". A missing zone means UTC.
const IMF = new RegExp(`^(?:[a-z]+,?\\s*)?(\\d{1,2})[\\s-]+${MON}[\\s-]+(\\d{2,4})\\s+${TIME}\\s*${ZONE}$`);
const ASCTIME = new RegExp(`^(?:[a-z]+\\s+)?${MON}\\s+(\\d{1,2})\\s+${TIME}\\s+(\\d{4})\\s*${ZONE}$`);

function fullYear(y: string): number {
  const n = Number(y);
  if (y.length > 2) return n;
  return n > 68 ? 1900 + n : 2000 + n;
}

function zoneOffsetS(zone: string | undefined): number {
  if (!zone || !/^[+-]/.test(zone)) return 0;
  const sign = zone[0] === '-' ? -1 : 1;
  return sign * (Number(zone.slice(1, 3)) * 3600 + Number(zone.slice(3, 5)) * 60);
}

/** Seconds since the epoch for an HTTP-date, or null when it is not one. */
export function parseHttpDate(value: string): number | null {
  const v = value.trim().toLowerCase();
  let day: string, mon: string, year: string, hh: string, mm: string, ss: string | undefined, zone: string | undefined;
  let m = IMF.exec(v);
  if (m) [, day, mon, year, hh, mm, ss, zone] = m;
  else if ((m = ASCTIME.exec(v))) [, mon, day, hh, mm, ss, year, zone] = m;
  else return null;

  const y = fullYear(year);
  const mo = MONTHS.indexOf(mon);
  const d = Number(day), h = Number(hh), mi = Number(mm), s = Number(ss ?? '0');
  if (h > 23 || mi > 59 || s > 60) return null;
  const ms = Date.UTC(y, mo, d, h, mi, Math.min(s, 59));
  const check = new Date(ms);
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== mo || check.getUTCDate() !== d) return null; // e.g. 31 Feb
  return ms / 1000 - zoneOffsetS(zone);
}

/** Delay in whole seconds (0..3600) from a Retry-After value; anything unparseable (even negative) is 0. */
export function parseRetryAfter(value: string | null | undefined, nowSeconds: number): number {
  if (typeof value !== 'string') return 0;
  const v = value.trim();
  if (v === '') return 0;
  if (/^\d+$/.test(v)) return Math.min(Number(v), MAX_RETRY_AFTER_S);
  const at = parseHttpDate(v);
  if (at === null) return 0;
  // Rounded up: a peer that says "retry at T" should not be contacted before T.
  return Math.ceil(Math.min(Math.max(at - nowSeconds, 0), MAX_RETRY_AFTER_S));
}
