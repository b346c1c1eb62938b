// The long ("interval") format: one reading per row, `MPAN,ReadDateTime,ReadValue[,Unit][,Type]` or a
// date and a time column. A timestamp with Z or an offset is that instant; without one it is Europe/
// London wall-clock time, unless the header says UTC (`Date (UTC)`, `ReadDateTime_UTC`).

import {
  DAY_MS,
  PERIOD_MS,
  periodStartUtcMs,
  settlementDay,
  settlementDayByNumber,
  settlementPeriodAt,
} from '../../time/settlement-calendar.js';
import { type AmbiguousTimeTracker, instantAtOffset, resolveLocalTime } from '../../time/wall-clock.js';
import {
  type Parsed,
  parseDate,
  parseReadingKwh,
  parseTimeOfDay,
  parseTimestamp,
  type Timestamp,
} from '../values.js';
import { cell, createMeterReader, readRowContext, rowError } from './cells.js';
import {
  columnMappingOf,
  DATE_ALIASES,
  DATETIME_ALIASES,
  findColumn,
  findColumnWithBasis,
  findMeterColumn,
  type HeaderScan,
  scanHeaders,
  TIME_ALIASES,
  type TimeBasis,
  TYPE_ALIASES,
  UNIT_ALIASES,
  unitOfValueHeader,
  VALUE_ALIASES,
} from './headers.js';
import { type LayoutDefinition, type LayoutMiss, miss, type ReadingLayoutPlan } from './layout.js';
import type { LabelEnd } from './time-labelled.js';

/** Where an instant falls: its settlement date, period and the period's start. */
export type PlacedInstant = {
  readonly settlementDate: string;
  readonly period: number;
  readonly startUtcMs: number;
};

/**
 * Places a parsed timestamp: an explicit offset (or a UTC basis) gives the instant directly; a
 * wall-clock time is resolved on its own date, the autumn repeat by occurrence per meter. An instant
 * inside a half-hour belongs to that half-hour.
 */
export function placeTimestamp(
  timestamp: Timestamp,
  basis: TimeBasis | null,
  meterCode: string,
  tracker: AmbiguousTimeTracker,
  label: LabelEnd = 'start',
): Parsed<PlacedInstant> {
  let day = settlementDay(timestamp.date);
  if (day === null) return { ok: false, reason: `Date ${timestamp.date} is outside 1996–2100` };
  const { hour, minute, second } = timestamp.time;
  let msOfDay = ((hour * 60 + minute) * 60 + second) * 1000;
  if (label === 'end') {
    // The interval starts half an hour before its end label, as wall-clock (see time-labelled.ts).
    msOfDay -= PERIOD_MS;
    if (msOfDay < 0) {
      day = settlementDayByNumber(day.dayNumber - 1);
      if (day === null) return { ok: false, reason: `Date ${timestamp.date} is outside 1996–2100` };
      msOfDay += DAY_MS;
    }
  }
  const offsetMinutes = timestamp.offsetMinutes ?? (basis === 'utc' ? 0 : null);
  if (offsetMinutes !== null) {
    const placed = settlementPeriodAt(instantAtOffset(day, msOfDay, offsetMinutes));
    if (placed === null) return { ok: false, reason: `Date ${timestamp.date} is outside 1996–2100` };
    return {
      ok: true,
      value: { settlementDate: placed.day.date, period: placed.period, startUtcMs: placed.startUtcMs },
    };
  }
  // UK offsets are whole hours, so rounding the wall-clock time down to its half-hour first is exact.
  const resolution = resolveLocalTime(day, Math.floor(msOfDay / PERIOD_MS) * PERIOD_MS);
  let utcMs: number;
  if (resolution.kind === 'unique') {
    utcMs = resolution.utcMs;
  } else {
    // Meter codes compare case-insensitively, as the meters table does.
    const instant = tracker.resolve(meterCode.toUpperCase(), resolution);
    if (!instant.ok) return instant;
    utcMs = instant.utcMs;
  }
  const period = (utcMs - day.midnightUtcMs) / PERIOD_MS + 1;
  return { ok: true, value: { settlementDate: day.date, period, startUtcMs: periodStartUtcMs(day, period) } };
}

type TimestampColumns = (
  | { readonly kind: 'datetime'; readonly datetime: number }
  | { readonly kind: 'date-and-time'; readonly date: number; readonly time: number }
) & { readonly basis: TimeBasis | null; readonly label: LabelEnd };

/** Headers that say the time is the interval's end (`Interval End`, `End Time`). */
const END_DATETIME_ALIASES: readonly string[] = ['enddatetime', 'intervalend', 'periodend', 'readingend'];
const END_TIME_ALIASES: readonly string[] = ['endtime', 'intervalendtime', 'periodendtime'];

function findTimestampColumns(scan: HeaderScan): TimestampColumns | null {
  const datetime = findColumnWithBasis(scan, DATETIME_ALIASES);
  if (datetime !== null)
    return { kind: 'datetime', datetime: datetime.index, basis: datetime.basis, label: 'start' };
  const endDatetime = findColumnWithBasis(scan, END_DATETIME_ALIASES);
  if (endDatetime !== null) {
    return { kind: 'datetime', datetime: endDatetime.index, basis: endDatetime.basis, label: 'end' };
  }
  const date = findColumnWithBasis(scan, DATE_ALIASES);
  if (date === null) return null;
  const time = findColumnWithBasis(scan, TIME_ALIASES);
  const endTime = time === null ? findColumnWithBasis(scan, END_TIME_ALIASES) : null;
  const clock = time ?? endTime;
  if (clock !== null) {
    return {
      kind: 'date-and-time',
      date: date.index,
      time: clock.index,
      basis: date.basis ?? clock.basis,
      label: endTime === null ? 'start' : 'end',
    };
  }
  // `Date (UTC)` alone, in a half-hourly file, holds date-times: its header states their basis.
  if (date.basis !== null)
    return { kind: 'datetime', datetime: date.index, basis: date.basis, label: 'start' };
  return null;
}

/** `24:00` ends a day; only an end label may say it (`2025-10-26 24:00`, `…T24:00:00Z`). */
const DAY_END = /([ T])24:00(?::00)?(?=$|\s*(?:Z|[+-]\d))/i;

function readEndOfDay(text: string, read: (text: string) => Parsed<Timestamp>): Parsed<Timestamp> {
  const trimmed = text.trim();
  if (!DAY_END.test(trimmed)) return read(trimmed);
  const parsed = read(trimmed.replace(DAY_END, '$100:00'));
  if (!parsed.ok) return parsed;
  return { ok: true, value: { ...parsed.value, time: { hour: 24, minute: 0, second: 0 } } };
}

function timestampReader(columns: TimestampColumns): (fields: readonly string[]) => Parsed<Timestamp> {
  const isEnd = columns.label === 'end';
  if (columns.kind === 'datetime') {
    return isEnd
      ? (fields) => readEndOfDay(cell(fields, columns.datetime), parseTimestamp)
      : (fields) => parseTimestamp(cell(fields, columns.datetime));
  }
  return (fields) => {
    const date = parseDate(cell(fields, columns.date));
    if (!date.ok) return date;
    const timeText = cell(fields, columns.time);
    if (isEnd && /^\s*24:00(:00)?\s*$/.test(timeText)) {
      return {
        ok: true,
        value: { date: date.value, time: { hour: 24, minute: 0, second: 0 }, offsetMinutes: null },
      };
    }
    const time = parseTimeOfDay(timeText);
    if (!time.ok) return time;
    return { ok: true, value: { date: date.value, time: time.value, offsetMinutes: null } };
  };
}

function planLong(headers: readonly string[]): ReadingLayoutPlan | LayoutMiss {
  const scan = scanHeaders(headers);
  const value = findColumn(scan, VALUE_ALIASES);
  const timestamp = findTimestampColumns(scan);
  if (timestamp === null)
    return miss('no date-time column (e.g. ReadDateTime), nor a date and a time column');
  if (value === null) return miss('no reading value column (e.g. ReadValue or kWh)');
  const meter = findMeterColumn(scan);
  const unit = findColumn(scan, UNIT_ALIASES);
  const readingType = findColumn(scan, TYPE_ALIASES);
  const defaultUnit = unitOfValueHeader(scan, value);
  const columnMapping = columnMappingOf(scan, {
    meter,
    datetime: timestamp.kind === 'datetime' ? timestamp.datetime : null,
    date: timestamp.kind === 'date-and-time' ? timestamp.date : null,
    time: timestamp.kind === 'date-and-time' ? timestamp.time : null,
    value,
    unit,
    reading_type: readingType,
  });
  if (timestamp.label === 'end')
    columnMapping.time_label = 'interval end (the reading starts 30 minutes earlier)';
  columnMapping.time_basis =
    timestamp.basis === 'utc'
      ? 'UTC unless a value has an offset'
      : 'Europe/London unless a value has Z or an offset';
  return {
    kind: 'readings',
    name: 'hh-interval',
    importType: 'hh',
    columnMapping,
    meterColumn: meter,
    compile: ({ meterCode, tracker }) => {
      const readMeter = createMeterReader(meter, meterCode);
      const readTimestamp = timestampReader(timestamp);
      const contextColumns = { unit, readingType };
      return (fields) => {
        const meterResult = readMeter(fields);
        if (!('ok' in meterResult)) return meterResult;
        const when = readTimestamp(fields);
        if (!when.ok) return rowError(`Invalid reading timestamp: ${when.reason}`);
        const valueText = cell(fields, value);
        if (valueText.trim() === '') return rowError('Missing reading value');
        const context = readRowContext(fields, contextColumns, defaultUnit);
        if (!context.ok) return rowError(context.reason);
        const kwh = parseReadingKwh(valueText, context.value.unit);
        if (!kwh.ok) return rowError(kwh.reason);
        const placed = placeTimestamp(
          when.value,
          timestamp.basis,
          meterResult.value,
          tracker,
          timestamp.label,
        );
        if (!placed.ok) return rowError(placed.reason);
        return {
          kind: 'rows',
          rows: [
            {
              meterCode: meterResult.value,
              ...placed.value,
              kwh: kwh.value,
              type: context.value.readingType,
              unit: context.value.unit,
            },
          ],
        };
      };
    },
  };
}

export const longLayout: LayoutDefinition = {
  name: 'hh-interval',
  importType: 'hh',
  exampleHeader: 'MPAN,ReadDateTime,ReadValue,Unit,ReadingType',
  match: planLong,
};
