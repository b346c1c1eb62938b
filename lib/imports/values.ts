// Owns the meaning of single CSV cells: dates, times, numbers, units, reading types, meter codes and
// site attributes. Pure and total: a bad cell gives a reason string, never an exception, and nothing
// here knows about columns, rows or the database.

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

export type TimeOfDay = { hour: number; minute: number; second: number };
export type LocalDateTime = { date: string; time: TimeOfDay };
export type Unit = 'kWh' | 'Wh' | 'MWh';
export type ReadingType = 'actual' | 'estimated';
export type MeterType = 'electricity' | 'gas';
export type SiteType = 'office' | 'warehouse' | 'retail' | 'industrial' | 'residential' | 'other';

export const MIN_YEAR = 1900;
export const MAX_YEAR = 2100;
export const MAX_METER_CODE_CHARS = 50;
export const MAX_SITE_NAME_CHARS = 255;
export const MAX_ADDRESS_CHARS = 500;
export const MAX_POSTCODE_CHARS = 16;
export const MAX_ECHOED_CHARS = 40;
/** DECIMAL(12,4) holds at most 8 integer digits; the scaled integer (×10⁴) must stay below this. */
const MAX_SCALED_KWH = 1e12;
/** Bounded to fit a DECIMAL(10,2) floor_area column. */
export const MAX_FLOOR_AREA_M2 = 1e8;
/** Bounded to fit a signed INT id column. */
const MAX_ID = 2_147_483_647;

function ok<T>(value: T): Parsed<T> {
  return { ok: true, value };
}

function fail<T>(reason: string): Parsed<T> {
  return { ok: false, reason };
}

/**
 * A cell value fit to quote in an error message: control characters become spaces and long values are
 * cut, so a 1 MB cell cannot bloat a job summary.
 */
export function quoteValue(text: string, maxChars: number = MAX_ECHOED_CHARS): string {
  return `"${truncateForMessage(text, maxChars)}"`;
}

/**
 * Text cut to `maxChars` (never inside a surrogate pair, which would make invalid JSON for MySQL),
 * with control characters and BOMs turned into spaces so a message stays on one line.
 */
export function truncateForMessage(text: string, maxChars: number = MAX_ECHOED_CHARS): string {
  let head = text;
  if (text.length > maxChars) {
    const isPairCut = (text.charCodeAt(maxChars - 1) & 0xfc00) === 0xd800;
    head = `${text.slice(0, isPairCut ? maxChars - 1 : maxChars)}…`;
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing control characters is the point
  return head.replace(/[\u0000-\u001f\u007f\ufeff]/g, ' ');
}

/** utf8mb4 VARCHAR(n) counts code points, not UTF-16 units. */
function codePointLength(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

function exceeds(text: string, maxChars: number): boolean {
  return text.length > maxChars && codePointLength(text) > maxChars;
}

function pad2(value: number): string {
  return value < 10 ? `0${value}` : String(value);
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** A real calendar date in range: 31/02 is an error, never rolled over to 2 March. */
function isCalendarDate(year: number, month: number, day: number): boolean {
  if (year < MIN_YEAR || year > MAX_YEAR || month < 1 || month > 12 || day < 1) return false;
  return day <= daysInMonth(year, month);
}

function calendarDate(year: number, month: number, day: number): string | null {
  return isCalendarDate(year, month, day) ? `${year}-${pad2(month)}-${pad2(day)}` : null;
}

const DAY_FIRST_DATE = /^(\d{1,2})([/-])(\d{1,2})\2(\d{4})$/;
const YEAR_FIRST_DATE = /^(\d{4})-(\d{1,2})-(\d{1,2})$/;
const CLOCK_TIME = /^(\d{1,2}):(\d{2})(?::(\d{2}))?(\.\d+)?$/;
const EXCEL_DAY_FRACTION = /^(?:0(?:\.\d*)?|\.\d+)$/;
const ZONE_SUFFIX = /(?:Z|[+-]\d{2}(?::?\d{2})?)$/i;

/** `d/m/yy`: a two-digit year is 20yy (meter data from the 1900s does not exist). */
const DAY_FIRST_SHORT_YEAR_DATE = /^(\d{1,2})\/(\d{1,2})\/(\d{2})$/;
/** `26-Oct-2025`, `26 Oct 2025`, `26 October 25`. */
const MONTH_NAME_DATE = /^(\d{1,2})([- ])([A-Za-z]{3,9})\2(\d{4}|\d{2})$/;
const MONTH_NAMES: ReadonlyMap<string, number> = new Map(
  [
    'january',
    'february',
    'march',
    'april',
    'may',
    'june',
    'july',
    'august',
    'september',
    'october',
    'november',
    'december',
  ].flatMap((name, index) => [
    [name, index + 1],
    [name.slice(0, 3), index + 1],
  ]),
).set('sept', 9);

function fullYear(digits: string): number {
  return digits.length === 2 ? 2000 + Number(digits) : Number(digits);
}

function parseDatePart(text: string): { date: string | null; yearFirst: boolean } | null {
  const dayFirst = DAY_FIRST_DATE.exec(text);
  if (dayFirst !== null) {
    return {
      date: calendarDate(Number(dayFirst[4]), Number(dayFirst[3]), Number(dayFirst[1])),
      yearFirst: false,
    };
  }
  const shortYear = DAY_FIRST_SHORT_YEAR_DATE.exec(text);
  if (shortYear !== null) {
    return {
      date: calendarDate(fullYear(shortYear[3] ?? ''), Number(shortYear[2]), Number(shortYear[1])),
      yearFirst: false,
    };
  }
  const monthName = MONTH_NAME_DATE.exec(text);
  if (monthName !== null) {
    const month = MONTH_NAMES.get((monthName[3] ?? '').toLowerCase());
    if (month === undefined) return null;
    return {
      date: calendarDate(fullYear(monthName[4] ?? ''), month, Number(monthName[1])),
      yearFirst: false,
    };
  }
  const yearFirst = YEAR_FIRST_DATE.exec(text);
  if (yearFirst !== null) {
    return {
      date: calendarDate(Number(yearFirst[1]), Number(yearFirst[2]), Number(yearFirst[3])),
      yearFirst: true,
    };
  }
  return null;
}

/**
 * A date as `YYYY-MM-DD`. Day first: `d/m/Y` and `d-m-Y` (1- or 2-digit day and month), or ISO
 * `Y-m-d`. A date-time whose time is midnight is accepted too, since spreadsheets append `00:00`.
 */
export function parseDate(text: string): Parsed<string> {
  const trimmed = text.trim();
  const part = parseDatePart(trimmed);
  if (part !== null)
    return part.date === null ? fail(`Impossible date ${quoteValue(trimmed)}`) : ok(part.date);
  const dateTime = parseDateTime(trimmed);
  if (dateTime.ok) {
    const { time } = dateTime.value;
    if (time.hour === 0 && time.minute === 0 && time.second === 0) return ok(dateTime.value.date);
  }
  return fail(`Unrecognised date ${quoteValue(trimmed)}`);
}

/**
 * A wall-clock time. `H:i[:s[.f]]` with hour ≤ 23 (fractions of a second are dropped); Excel's mangled
 * `MM:SS.f` when the first part is 24–59 (so `30:00.0` is 00:30; `MM:SS.f` with 0–23 first is
 * ambiguous and stays `H:i`, so `00:00.0` is midnight); or an Excel day fraction in [0, 1), rounded to
 * the nearest minute because Excel keeps too few digits for seconds (0.020833 → 00:30).
 */
export function parseTimeOfDay(text: string): Parsed<TimeOfDay> {
  const trimmed = text.trim();
  const clock = CLOCK_TIME.exec(trimmed);
  if (clock !== null) {
    const first = Number(clock[1]);
    const middle = Number(clock[2]);
    const last = clock[3] === undefined ? null : Number(clock[3]);
    const hasFraction = clock[4] !== undefined;
    if (last === null && hasFraction && first >= 24 && first <= 59 && middle <= 59) {
      return ok({ hour: 0, minute: first, second: middle });
    }
    if (first <= 23 && middle <= 59 && (last === null || last <= 59)) {
      return ok({ hour: first, minute: middle, second: last ?? 0 });
    }
    return fail(`Invalid time ${quoteValue(trimmed)}`);
  }
  if (EXCEL_DAY_FRACTION.test(trimmed)) {
    const minutes = Math.round(Number(trimmed) * 1440);
    if (minutes < 1440) return ok({ hour: Math.floor(minutes / 60), minute: minutes % 60, second: 0 });
  }
  return fail(`Invalid time ${quoteValue(trimmed)}`);
}

export function formatTimeOfDay(time: TimeOfDay): string {
  return `${pad2(time.hour)}:${pad2(time.minute)}:${pad2(time.second)}`;
}

/** A time as `HH:MM:SS`; see parseTimeOfDay for the accepted forms. */
export function parseTime(text: string): Parsed<string> {
  const parsed = parseTimeOfDay(text);
  return parsed.ok ? ok(formatTimeOfDay(parsed.value)) : parsed;
}

/**
 * A date-time: `Y-m-d H:i[:s]`, `d/m/Y H:i[:s]`, `d-m-Y H:i[:s]`, ISO 8601 with `T`, or a bare date
 * (midnight). Readings are local wall-clock, so a `Z` or `±hh:mm` offset (allowed after a year-first
 * date) is accepted and ignored: the time is kept as written, never shifted into another zone.
 */
export function parseDateTime(text: string): Parsed<LocalDateTime> {
  const trimmed = text.trim();
  const fast = parseCanonicalDateTime(trimmed);
  if (fast !== null) return fast;
  // A month-name date holds spaces or letters itself, so it is split off by its own shape.
  const named = MONTH_NAME_DATE_PREFIX.exec(trimmed);
  let separator = named === null ? -1 : (named[1] ?? '').length;
  if (separator === trimmed.length) separator = -1;
  for (let i = 0; named === null && i < trimmed.length; i++) {
    const code = trimmed.charCodeAt(i);
    if (code === 32 || code === 84 || code === 116) {
      separator = i;
      break;
    }
  }
  const datePart = separator === -1 ? trimmed : trimmed.slice(0, separator);
  const parsedDate = parseDatePart(datePart);
  if (parsedDate === null || parsedDate.date === null)
    return fail(`Invalid date-time ${quoteValue(trimmed)}`);
  if (separator === -1) return ok({ date: parsedDate.date, time: { hour: 0, minute: 0, second: 0 } });

  const isIsoT = trimmed.charCodeAt(separator) !== 32;
  if (isIsoT && !parsedDate.yearFirst) return fail(`Invalid date-time ${quoteValue(trimmed)}`);
  let timePart = trimmed.slice(separator + 1).trimStart();
  if (parsedDate.yearFirst) {
    const zone = ZONE_SUFFIX.exec(timePart);
    if (zone !== null && timePart.length - zone[0].length >= 4) timePart = timePart.slice(0, zone.index);
  }
  const clock = CLOCK_TIME.exec(timePart);
  if (clock === null) return fail(`Invalid date-time ${quoteValue(trimmed)}`);
  const hour = Number(clock[1]);
  const minute = Number(clock[2]);
  const second = clock[3] === undefined ? 0 : Number(clock[3]);
  if (hour > 23 || minute > 59 || second > 59) return fail(`Invalid date-time ${quoteValue(trimmed)}`);
  return ok({ date: parsedDate.date, time: { hour, minute, second } });
}

const MONTH_NAME_DATE_PREFIX = /^(\d{1,2}([- ])[A-Za-z]{3,9}\2(?:\d{4}|\d{2}))(?=$|[ T])/;
/** A zone after a clock time: `Z`, `+01:00`, `+0100`, `-05`, with or without a space before it. */
const TRAILING_ZONE = /^(.*\d:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(?:(Z)|([+-])(\d{2})(?::?(\d{2}))?)$/i;

/** A date-time and, when it says so, its offset from UTC in minutes (`Z` → 0, `+01:00` → 60). */
export type Timestamp = LocalDateTime & { offsetMinutes: number | null };

/**
 * A date-time that keeps its zone: any form parseDateTime reads, optionally followed by `Z` or an
 * offset (`±hh:mm`, `±hhmm`, `±hh`, at most ±14:00). Without one, `offsetMinutes` is null and the
 * caller decides what the wall-clock time means (see lib/time/wall-clock.ts).
 */
export function parseTimestamp(text: string): Parsed<Timestamp> {
  const trimmed = text.trim();
  const fast = parseCanonicalTimestamp(trimmed);
  if (fast !== null) return fast;
  const zone = TRAILING_ZONE.exec(trimmed);
  if (zone === null) {
    const local = parseDateTime(trimmed);
    return local.ok ? ok({ ...local.value, offsetMinutes: null }) : local;
  }
  let offsetMinutes = 0;
  if (zone[2] === undefined) {
    const hours = Number(zone[4]);
    const minutes = zone[5] === undefined ? 0 : Number(zone[5]);
    if (hours > 14 || minutes > 59 || hours * 60 + minutes > 840) {
      return fail(`Invalid offset in date-time ${quoteValue(trimmed)}`);
    }
    offsetMinutes = zone[3] === '-' ? 0 - (hours * 60 + minutes) || 0 : hours * 60 + minutes;
  }
  const local = parseDateTime(zone[1] ?? '');
  if (!local.ok) return fail(`Invalid date-time ${quoteValue(trimmed)}`);
  return ok({ ...local.value, offsetMinutes });
}

/**
 * The hot path of parseTimestamp, without a regex: a canonical date-time (see parseCanonicalDateTime)
 * alone, or followed by `Z` or `±hh:mm`. Null means "not exactly this shape".
 */
function parseCanonicalTimestamp(text: string): Parsed<Timestamp> | null {
  const length = text.length;
  let offsetMinutes: number | null = null;
  let local = text;
  if (length === 20 && (text.charCodeAt(19) === 90 || text.charCodeAt(19) === 122)) {
    offsetMinutes = 0;
    local = text.slice(0, 19);
  } else if (length === 25 && text.charCodeAt(22) === 58) {
    const sign = text.charCodeAt(19);
    const hours = digitsAt(text, 20, 22);
    const minutes = digitsAt(text, 23, 25);
    if ((sign !== 43 && sign !== 45) || hours < 0 || hours > 14 || minutes < 0 || minutes > 59) return null;
    if (hours * 60 + minutes > 840) return null;
    offsetMinutes = sign === 45 ? 0 - (hours * 60 + minutes) || 0 : hours * 60 + minutes;
    local = text.slice(0, 19);
  }
  const parsed = parseCanonicalDateTime(local);
  if (parsed === null || !parsed.ok) return parsed;
  return ok({ date: parsed.value.date, time: parsed.value.time, offsetMinutes });
}

/** Digits at [start, end) as a number, or -1 if any is not an ASCII digit. */
function digitsAt(text: string, start: number, end: number): number {
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/**
 * The hot path for the shapes nearly every interval file uses, `YYYY-MM-DD HH:MM[:SS]` (or with `T`)
 * and `DD/MM/YYYY HH:MM[:SS]`: fixed positions, no regex. Null means "not exactly this shape", and
 * the general parser decides.
 */
function parseCanonicalDateTime(text: string): Parsed<LocalDateTime> | null {
  const length = text.length;
  if (length !== 16 && length !== 19) return null;
  const separator = text.charCodeAt(10);
  if (text.charCodeAt(13) !== 58 || (length === 19 && text.charCodeAt(16) !== 58)) return null;
  let year: number;
  let month: number;
  let day: number;
  const isYearFirst = text.charCodeAt(4) === 45 && text.charCodeAt(7) === 45;
  if (isYearFirst && (separator === 32 || separator === 84)) {
    year = digitsAt(text, 0, 4);
    month = digitsAt(text, 5, 7);
    day = digitsAt(text, 8, 10);
  } else if (text.charCodeAt(2) === 47 && text.charCodeAt(5) === 47 && separator === 32) {
    day = digitsAt(text, 0, 2);
    month = digitsAt(text, 3, 5);
    year = digitsAt(text, 6, 10);
  } else {
    return null;
  }
  const hour = digitsAt(text, 11, 13);
  const minute = digitsAt(text, 14, 16);
  const second = length === 19 ? digitsAt(text, 17, 19) : 0;
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return null;
  if (!isCalendarDate(year, month, day) || hour > 23 || minute > 59 || second > 59) {
    return fail(`Invalid date-time ${quoteValue(text)}`);
  }
  const date = isYearFirst ? text.slice(0, 10) : `${year}-${pad2(month)}-${pad2(day)}`;
  return ok({ date, time: { hour, minute, second } });
}

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

export type DecimalProblem = 'empty' | 'not-a-number' | 'negative' | 'too-large';
export type ScaledDecimal = { ok: true; value: string } | { ok: false; problem: DecimalProblem };

/**
 * True when the text already is the canonical output: 1–8 integer digits without a leading zero (or
 * exactly `0`), then optionally `.` and 1–4 digits not ending in 0. Skips the general path for the
 * common `5.6`.
 */
function isCanonicalKwh(text: string): boolean {
  const length = text.length;
  let i = 0;
  while (i < length) {
    const code = text.charCodeAt(i);
    if (code < 48 || code > 57) break;
    i++;
  }
  if (i === 0 || i > 8 || (i > 1 && text.charCodeAt(0) === 48)) return false;
  if (i === length) return true;
  if (text.charCodeAt(i) !== 46) return false;
  const fractionDigits = length - i - 1;
  if (fractionDigits < 1 || fractionDigits > 4 || text.charCodeAt(length - 1) === 48) return false;
  for (let j = i + 1; j < length; j++) {
    const code = text.charCodeAt(j);
    if (code < 48 || code > 57) return false;
  }
  return true;
}

/** Decimal places each unit shifts a value by to reach kWh. */
const UNIT_SHIFT: Readonly<Record<Unit, number>> = { kWh: 0, Wh: -3, MWh: 3 };

/**
 * A non-negative decimal, scaled by 10^shift and rounded to 4 places for DECIMAL(12,4), as a plain
 * string (`5.6` with shift −3 → `0.0056`). Works on the digits, so no binary-float drift: rounding is
 * half away from zero on the exact written value (1.23455 → 1.2346), as MySQL rounds DECIMAL.
 * Accepts an optional sign, `.5`, `5.` and an exponent (Excel writes `1.5E-05`); rejects hex,
 * `NaN`, `Infinity`, thousands separators and anything reaching 10⁸ after scaling.
 */
export function scaleDecimal(text: string, shift: number): ScaledDecimal {
  const trimmed = text.trim();
  if (trimmed === '') return { ok: false, problem: 'empty' };
  if (shift === 0 && isCanonicalKwh(trimmed)) return { ok: true, value: trimmed };
  const match = DECIMAL.exec(trimmed);
  if (match === null) return { ok: false, problem: 'not-a-number' };
  const intDigits = match[2] ?? '';
  const fracDigits = match[3] ?? '';
  if (intDigits.length + fracDigits.length === 0) return { ok: false, problem: 'not-a-number' };
  const digits = intDigits + fracDigits;
  let firstNonZero = 0;
  while (firstNonZero < digits.length && digits.charCodeAt(firstNonZero) === 48) firstNonZero++;
  if (firstNonZero === digits.length) return { ok: true, value: '0' };
  if (match[1] === '-') return { ok: false, problem: 'negative' };

  // value = 0.<significant> × 10^point
  const significant = digits.slice(firstNonZero);
  const exponent = match[4] === undefined ? 0 : Number(match[4]);
  const point = intDigits.length - firstNonZero + exponent + shift;
  if (point > 8) return { ok: false, problem: 'too-large' };
  const keep = point + 4; // digits up to the 4th decimal place
  let scaled: number;
  if (keep < 0) {
    scaled = 0;
  } else {
    const kept = keep === 0 ? '0' : significant.slice(0, keep).padEnd(keep, '0');
    // At most 12 digits, so the integer is exact in a double.
    scaled = Number(kept) + (significant.charCodeAt(keep) >= 53 ? 1 : 0);
  }
  if (scaled >= MAX_SCALED_KWH) return { ok: false, problem: 'too-large' };
  const whole = Math.floor(scaled / 10_000);
  const fraction = scaled % 10_000;
  if (fraction === 0) return { ok: true, value: String(whole) };
  return { ok: true, value: `${whole}.${String(fraction).padStart(4, '0').replace(/0+$/, '')}` };
}

/** `kWh` and empty mean kWh; `Wh` and `MWh` are converted; case is ignored. */
export function parseUnit(text: string, emptyMeans: Unit = 'kWh'): Parsed<Unit> {
  const normalised = text.trim().toLowerCase();
  if (normalised === '') return ok(emptyMeans);
  if (normalised === 'kwh') return ok('kWh');
  if (normalised === 'wh') return ok('Wh');
  if (normalised === 'mwh') return ok('MWh');
  return fail(`Unknown unit ${quoteValue(text.trim())}`);
}

/**
 * A meter reading in kWh as a DECIMAL(12,4) string. Negative values are a row error: consumption is
 * never negative, so a negative cell means a wrong column (export, a correction) or corrupt data, and
 * storing it would silently skew totals.
 */
export function parseReadingKwh(text: string, unit: Unit): Parsed<string> {
  const scaled = scaleDecimal(text, UNIT_SHIFT[unit]);
  if (scaled.ok) return ok(scaled.value);
  return fail(describeDecimalProblem(scaled.problem, text.trim(), 'reading value'));
}

/** The message for a rejected number; `subject` names what it was (`reading value`, …). */
function describeDecimalProblem(problem: DecimalProblem, text: string, subject: string): string {
  switch (problem) {
    case 'empty':
      return `Missing ${subject}`;
    case 'not-a-number':
      return `Non-numeric ${subject} ${quoteValue(text)}`;
    case 'negative':
      return `Negative ${subject} ${quoteValue(text)}`;
    case 'too-large':
      return `Out-of-range ${subject} ${quoteValue(text)} (must be below 100000000 kWh)`;
  }
}

export function unitShift(unit: Unit): number {
  return UNIT_SHIFT[unit];
}

/** `A`/`actual` and empty mean actual, `E`/`estimated` estimated; case is ignored. */
export function parseReadingType(text: string): Parsed<ReadingType> {
  const normalised = text.trim().toLowerCase();
  if (normalised === '' || normalised === 'a' || normalised === 'actual') return ok('actual');
  if (normalised === 'e' || normalised === 'estimated') return ok('estimated');
  return fail(`Unknown reading type ${quoteValue(text.trim())}`);
}

// Letters, digits, space, `-`, `_` and `/` only: this keeps spreadsheet formulas (`=cmd|…`) and SQL
// fragments from ever becoming a stored meter code.
const METER_CODE = /^[A-Za-z0-9 _/-]+$/;

/** A meter code (MPAN, MPRN or serial), trimmed. */
export function parseMeterCode(text: string): Parsed<string> {
  const trimmed = text.trim();
  if (trimmed === '') return fail('Missing MPAN');
  if (trimmed.length > MAX_METER_CODE_CHARS) {
    return fail(`Meter code ${quoteValue(trimmed)} is longer than ${MAX_METER_CODE_CHARS} characters`);
  }
  if (!METER_CODE.test(trimmed)) {
    return fail(`Meter code ${quoteValue(trimmed)} may only hold letters, digits, spaces, "-", "_" and "/"`);
  }
  return ok(trimmed);
}

/** Gas meter codes (MPRN-style) start with M; everything else is electricity. */
export function meterTypeOf(meterCode: string): MeterType {
  const first = meterCode.charCodeAt(0);
  return first === 77 || first === 109 ? 'gas' : 'electricity';
}

const ACTIVE_WORDS = new Set(['1', 'true', 'yes', 'active']);
const INACTIVE_WORDS = new Set(['0', 'false', 'no', 'inactive']);

/**
 * Empty means active (a new site is active unless a file says otherwise); anything outside the two
 * word lists is a row error rather than silently deactivating a site over a typo.
 */
export function parseIsActive(text: string): Parsed<boolean> {
  const normalised = text.trim().toLowerCase();
  if (normalised === '' || ACTIVE_WORDS.has(normalised)) return ok(true);
  if (INACTIVE_WORDS.has(normalised)) return ok(false);
  return fail(`Invalid is_active value ${quoteValue(text.trim())}`);
}

const SITE_TYPES: ReadonlySet<string> = new Set<SiteType>([
  'office',
  'warehouse',
  'retail',
  'industrial',
  'residential',
  'other',
]);

function isSiteType(value: string): value is SiteType {
  return SITE_TYPES.has(value);
}

/** Empty means `office`; case is ignored. */
export function parseSiteType(text: string): Parsed<SiteType> {
  const normalised = text.trim().toLowerCase();
  if (normalised === '') return ok('office');
  if (isSiteType(normalised)) return ok(normalised);
  return fail(`Unknown site type ${quoteValue(text.trim())}`);
}

const PLAIN_NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/;

/** An optional number within [min, max); empty gives null. `subject` names it in the reason. */
function parseOptionalNumber(
  text: string,
  subject: string,
  min: number,
  max: number,
  isMaxInclusive: boolean,
): Parsed<number | null> {
  const trimmed = text.trim();
  if (trimmed === '') return ok(null);
  if (!PLAIN_NUMBER.test(trimmed)) return fail(`Non-numeric ${subject} ${quoteValue(trimmed)}`);
  const value = Number(trimmed);
  if (value < min || value > max || (!isMaxInclusive && value === max)) {
    return fail(`Out-of-range ${subject} ${quoteValue(trimmed)}`);
  }
  return ok(value === 0 ? 0 : value);
}

export function parseFloorAreaM2(text: string): Parsed<number | null> {
  return parseOptionalNumber(text, 'floor_area', 0, MAX_FLOOR_AREA_M2, false);
}

export function parseLatitude(text: string): Parsed<number | null> {
  return parseOptionalNumber(text, 'latitude', -90, 90, true);
}

export function parseLongitude(text: string): Parsed<number | null> {
  return parseOptionalNumber(text, 'longitude', -180, 180, true);
}

/** A positive integer id, or null when empty. */
export function parseOptionalId(text: string, subject: string): Parsed<number | null> {
  const trimmed = text.trim();
  if (trimmed === '') return ok(null);
  if (!/^\d+$/.test(trimmed)) return fail(`Invalid ${subject} ${quoteValue(trimmed)}`);
  const value = Number(trimmed);
  if (value < 1 || value > MAX_ID) return fail(`Invalid ${subject} ${quoteValue(trimmed)}`);
  return ok(value);
}

/** A trimmed text limited to `maxChars` code points; empty gives null unless `isRequired`. */
export function parseText(
  text: string,
  subject: string,
  maxChars: number,
  isRequired: boolean,
): Parsed<string | null> {
  const trimmed = text.trim();
  if (trimmed === '') return isRequired ? fail(`Missing ${subject}`) : ok(null);
  if (exceeds(trimmed, maxChars)) return fail(`${subject} is longer than ${maxChars} characters`);
  return ok(trimmed);
}

/** UK postcodes are compared as upper case with single spaces, so re-runs match the same site. */
export function parsePostcode(text: string): Parsed<string | null> {
  const normalised = text.trim().replace(/\s+/g, ' ').toUpperCase();
  return parseText(normalised, 'postcode', MAX_POSTCODE_CHARS, false);
}
