// The UK settlement calendar: which days have 46, 48 or 50 half-hour periods, where each period starts
// as a UTC instant, and which settlement date and period an instant falls in. Pure arithmetic on the
// Europe/London rule (see docs/design.md#time-model); no Intl, no I/O, no reading of the host's zone.

export const PERIOD_MINUTES = 30;
export const PERIOD_MS = PERIOD_MINUTES * 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

export type PeriodCount = 46 | 48 | 50;

/** `spring-forward`: clocks go 01:00 GMT → 02:00 BST. `autumn-back`: 02:00 BST → 01:00 GMT. */
export type DayKind = 'normal' | 'spring-forward' | 'autumn-back';

export type SettlementDay = {
  /** YYYY-MM-DD, the Europe/London calendar day. */
  readonly date: string;
  /** Days since 1970-01-01 of that calendar date. */
  readonly dayNumber: number;
  /** Local midnight of the date as a UTC instant (epoch ms). */
  readonly midnightUtcMs: number;
  readonly periodCount: PeriodCount;
  readonly kind: DayKind;
  /** True when local midnight is in British Summer Time (UTC+1). */
  readonly isMidnightBst: boolean;
};

/** The two clock changes of a year, as UTC instants and as the settlement dates they fall on. */
export type ClockChanges = {
  readonly year: number;
  /** Last Sunday of March; at 01:00 UTC the clocks go forward. */
  readonly springForwardDate: string;
  readonly springForwardUtcMs: number;
  /** Last Sunday of October; at 01:00 UTC the clocks go back. */
  readonly autumnBackDate: string;
  readonly autumnBackUtcMs: number;
};

// The British Summer Time rule in force since 1996 (EU-aligned). Dates outside these years are
// refused rather than computed under a rule that did not apply.
export const MIN_CALENDAR_YEAR = 1996;
export const MAX_CALENDAR_YEAR = 2100;

function pad2(value: number): string {
  return value < 10 ? `0${value}` : String(value);
}

/** Days since 1970-01-01 of a proleptic Gregorian date (the well-known era-based algorithm). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const monthIndex = month > 2 ? month - 3 : month + 9;
  const dayOfYear = Math.floor((153 * monthIndex + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

/** The calendar date of a day number (inverse of daysFromCivil). */
export function civilFromDays(dayNumber: number): { year: number; month: number; day: number } {
  const z = dayNumber + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor(
    (dayOfEra -
      Math.floor(dayOfEra / 1460) +
      Math.floor(dayOfEra / 36_524) -
      Math.floor(dayOfEra / 146_096)) /
      365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthIndex = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * monthIndex + 2) / 5) + 1;
  const month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9;
  return { year: yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

export function formatDayNumber(dayNumber: number): string {
  const { year, month, day } = civilFromDays(dayNumber);
  return `${year}-${pad2(month)}-${pad2(day)}`;
}

/** 0 = Sunday … 6 = Saturday. 1970-01-01 was a Thursday. */
function weekday(dayNumber: number): number {
  return (((dayNumber + 4) % 7) + 7) % 7;
}

function lastSundayOf(year: number, month: number, daysInMonth: number): number {
  const last = daysFromCivil(year, month, daysInMonth);
  return last - weekday(last);
}

const changesByYear = new Map<number, ClockChanges>();

/** The clock changes of `year` (1996..2100); throws RangeError outside it. */
export function clockChangesOf(year: number): ClockChanges {
  const cached = changesByYear.get(year);
  if (cached !== undefined) return cached;
  if (!Number.isInteger(year) || year < MIN_CALENDAR_YEAR || year > MAX_CALENDAR_YEAR) {
    throw new RangeError(`No UK clock-change rule for year ${year}`);
  }
  const spring = lastSundayOf(year, 3, 31);
  const autumn = lastSundayOf(year, 10, 31);
  const changes: ClockChanges = Object.freeze({
    year,
    springForwardDate: formatDayNumber(spring),
    springForwardUtcMs: spring * DAY_MS + HOUR_MS,
    autumnBackDate: formatDayNumber(autumn),
    autumnBackUtcMs: autumn * DAY_MS + HOUR_MS,
  });
  changesByYear.set(year, changes);
  return changes;
}

const DATE_TEXT = /^(\d{4})-(\d{2})-(\d{2})$/;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function buildDay(dayNumber: number, year: number): SettlementDay {
  const changes = clockChangesOf(year);
  const springDay = Math.floor(changes.springForwardUtcMs / DAY_MS);
  const autumnDay = Math.floor(changes.autumnBackUtcMs / DAY_MS);
  const kind: DayKind =
    dayNumber === springDay ? 'spring-forward' : dayNumber === autumnDay ? 'autumn-back' : 'normal';
  // Midnight is BST from the day after the spring change up to and including the autumn change day.
  const isMidnightBst = dayNumber > springDay && dayNumber <= autumnDay;
  const periodCount: PeriodCount = kind === 'spring-forward' ? 46 : kind === 'autumn-back' ? 50 : 48;
  return Object.freeze({
    date: formatDayNumber(dayNumber),
    dayNumber,
    midnightUtcMs: dayNumber * DAY_MS - (isMidnightBst ? HOUR_MS : 0),
    periodCount,
    kind,
    isMidnightBst,
  });
}

// Every date a file can name fits easily (1996..2100 is about 38,000 days); the cache only saves the
// arithmetic and string work, so clearing it when it grows past that bound loses nothing.
const MAX_CACHED_DAYS = 50_000;
const daysByText = new Map<string, SettlementDay>();
const daysByNumber = new Map<number, SettlementDay>();
let lastDay: SettlementDay | undefined;

function remember(day: SettlementDay): SettlementDay {
  if (daysByNumber.size >= MAX_CACHED_DAYS) {
    daysByNumber.clear();
    daysByText.clear();
  }
  daysByNumber.set(day.dayNumber, day);
  daysByText.set(day.date, day);
  return day;
}

/** The settlement day of a `YYYY-MM-DD` date, or null when it is not a real date in 1996..2100. */
export function settlementDay(date: string): SettlementDay | null {
  // Files list a day's readings together: the last day asked for is the usual answer.
  if (date === lastDay?.date) return lastDay;
  const cached = daysByText.get(date);
  if (cached !== undefined) {
    lastDay = cached;
    return cached;
  }
  const match = DATE_TEXT.exec(date);
  if (match === null) return null;
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  if (year < MIN_CALENDAR_YEAR || year > MAX_CALENDAR_YEAR || month < 1 || month > 12) return null;
  if (day < 1 || day > daysInMonth(year, month)) return null;
  return remember(buildDay(daysFromCivil(year, month, day), year));
}

/** The settlement day with the given day number (days since 1970-01-01), or null outside 1996..2100. */
export function settlementDayByNumber(dayNumber: number): SettlementDay | null {
  const cached = daysByNumber.get(dayNumber);
  if (cached !== undefined) return cached;
  const { year } = civilFromDays(dayNumber);
  if (year < MIN_CALENDAR_YEAR || year > MAX_CALENDAR_YEAR) return null;
  return remember(buildDay(dayNumber, year));
}

/** The day after `day` (null past 2100-12-31). */
export function nextSettlementDay(day: SettlementDay): SettlementDay | null {
  return settlementDayByNumber(day.dayNumber + 1);
}

/** Start of period p (1-based) of `day`: local midnight plus (p − 1) × 30 minutes. */
export function periodStartUtcMs(day: SettlementDay, period: number): number {
  return day.midnightUtcMs + (period - 1) * PERIOD_MS;
}

/** True when Europe/London is on BST (UTC+1) at the instant. */
export function isBstAt(utcMs: number): boolean {
  const year = civilFromDays(Math.floor(utcMs / DAY_MS)).year;
  if (year < MIN_CALENDAR_YEAR || year > MAX_CALENDAR_YEAR) {
    throw new RangeError(`No UK clock-change rule for year ${year}`);
  }
  const changes = clockChangesOf(year);
  return utcMs >= changes.springForwardUtcMs && utcMs < changes.autumnBackUtcMs;
}

export type SettlementPeriod = {
  readonly day: SettlementDay;
  /** 1..day.periodCount. */
  readonly period: number;
  /** The start of that period (the instant rounded down to its half-hour). */
  readonly startUtcMs: number;
};

/**
 * The settlement date and period an instant falls in, or null outside 1996..2100. An instant inside a
 * half-hour belongs to the period that contains it.
 */
export function settlementPeriodAt(utcMs: number): SettlementPeriod | null {
  if (!Number.isFinite(utcMs)) return null;
  const utcDay = Math.floor(utcMs / DAY_MS);
  // Most instants fall on their UTC date's settlement day; an hour before UTC midnight in summer
  // belongs to the next one.
  let day = settlementDayByNumber(utcDay);
  if (day === null) return null;
  if (utcMs < day.midnightUtcMs) {
    day = settlementDayByNumber(utcDay - 1);
  } else if (utcMs >= day.midnightUtcMs + day.periodCount * PERIOD_MS) {
    day = settlementDayByNumber(utcDay + 1);
  }
  if (day === null) return null;
  const period = Math.floor((utcMs - day.midnightUtcMs) / PERIOD_MS) + 1;
  return { day, period, startUtcMs: periodStartUtcMs(day, period) };
}

/** `2025-10-26T01:00:00Z` (whole seconds; the API's form of an instant). */
export function formatUtcIso(utcMs: number): string {
  return `${formatUtcSql(utcMs).replace(' ', 'T')}Z`;
}

/** `HH:MM:SS` of every half-hour of a day: the times a reading's start can have. */
const HALF_HOUR_TIMES: readonly string[] = Array.from(
  { length: 48 },
  (_, i) => `${pad2(Math.floor(i / 2))}:${i % 2 === 0 ? '00' : '30'}:00`,
);

// The importer formats a million instants a run, a few dates among them: the last date is reused.
let lastFormattedDayNumber = Number.NaN;
let lastFormattedDate = '';

/** `2025-10-26 01:00:00`: a UTC instant as a DATETIME literal for a column that holds UTC. */
export function formatUtcSql(utcMs: number): string {
  const dayNumber = Math.floor(utcMs / DAY_MS);
  if (dayNumber !== lastFormattedDayNumber) {
    lastFormattedDate = formatDayNumber(dayNumber);
    lastFormattedDayNumber = dayNumber;
  }
  const msOfDay = utcMs - dayNumber * DAY_MS;
  if (msOfDay % PERIOD_MS === 0) return `${lastFormattedDate} ${HALF_HOUR_TIMES[msOfDay / PERIOD_MS]}`;
  const seconds = Math.floor(msOfDay / 1000);
  const hh = Math.floor(seconds / 3600);
  const mm = Math.floor((seconds % 3600) / 60);
  const ss = seconds % 60;
  return `${lastFormattedDate} ${pad2(hh)}:${pad2(mm)}:${pad2(ss)}`;
}
