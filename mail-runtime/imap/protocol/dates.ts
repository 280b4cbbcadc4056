/**
 * Dates in commands and responses (RFC 3501 §9 `date`, `date-time`).
 */
import type { ImapValue } from './values';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTH_INDEX = new Map(MONTHS.map((m, i) => [m.toUpperCase(), i]));

/** A calendar date without time or zone: what SEARCH BEFORE/ON/SINCE compare (RFC 3501 §6.4.4). */
export interface CalendarDate {
  readonly year: number;
  readonly month: number; // 1..12
  readonly day: number; // 1..31
}

function textOf(v: ImapValue | string | undefined): string | undefined {
  if (typeof v === 'string') return v;
  if (!v) return undefined;
  if (v.type === 'atom' && !v.section) return v.value;
  if (v.type === 'string') return v.bytes.toString('latin1');
  return undefined;
}

function validDay(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return day <= days;
}

/** `1-Jan-2024` or `"01-Jan-2024"` (RFC 3501 §9 `date`). Null when invalid. */
export function parseDate(v: ImapValue | string | undefined): CalendarDate | null {
  const text = textOf(v);
  if (text === undefined) return null;
  const m = /^([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})$/.exec(text);
  if (!m) return null;
  const month = MONTH_INDEX.get(m[2].toUpperCase());
  if (month === undefined) return null;
  const date = { year: Number(m[3]), month: month + 1, day: Number(m[1]) };
  return validDay(date.year, date.month, date.day) ? date : null;
}

/** An instant plus the zone it was written in (kept so INTERNALDATE can be shown as given). */
export interface DateTimeValue {
  readonly date: Date;
  /** Offset east of UTC in minutes, e.g. +0200 → 120. */
  readonly offsetMinutes: number;
}

/**
 * `"01-Jan-2024 00:00:00 +0000"` (RFC 3501 §9 `date-time`; the day may be
 * space-padded or, leniently, one digit). Null when invalid.
 */
export function parseDateTime(v: ImapValue | string | undefined): DateTimeValue | null {
  const text = textOf(v);
  if (text === undefined) return null;
  const m = /^ ?([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2})$/.exec(text);
  if (!m) return null;
  const month = MONTH_INDEX.get(m[2].toUpperCase());
  if (month === undefined) return null;
  const [year, day, hh, mm, ss, zh, zm] = [m[3], m[1], m[4], m[5], m[6], m[8], m[9]].map(Number);
  if (!validDay(year, month + 1, day) || hh > 23 || mm > 59 || ss > 60 || zh > 23 || zm > 59) return null;
  const offsetMinutes = (m[7] === '-' ? -1 : 1) * (zh * 60 + zm);
  const utc = Date.UTC(year, month, day, hh, mm, Math.min(ss, 59)) - offsetMinutes * 60_000;
  return { date: new Date(utc), offsetMinutes };
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** `01-Jan-2024 00:00:00 +0000` (without quotes) for INTERNALDATE (RFC 3501 §7.4.2). */
export function formatDateTime(date: Date, offsetMinutes = 0): string {
  const local = new Date(date.getTime() + offsetMinutes * 60_000);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return (
    `${pad(local.getUTCDate())}-${MONTHS[local.getUTCMonth()]}-${local.getUTCFullYear()} ` +
    `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())} ` +
    `${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`
  );
}

/** Days since 1970-01-01 for a calendar date (for comparisons). */
export function dayNumber(d: CalendarDate): number {
  return Math.floor(Date.UTC(d.year, d.month - 1, d.day) / 86_400_000);
}
