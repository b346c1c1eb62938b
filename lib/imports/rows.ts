// Owns turning one CSV data record into typed reading or site rows, or a row-level error message.
// Never throws for bad data and never touches the database; header problems belong to formats.ts.

import type {
  DailyLayout,
  HhIntervalLayout,
  HhMatrixLayout,
  ImportLayout,
  ReadingLayout,
  SitesLayout,
} from './formats.js';
import type { DecimalProblem, LocalDateTime, Parsed, ReadingType, SiteType, Unit } from './values.js';
import {
  formatTimeOfDay,
  MAX_ADDRESS_CHARS,
  MAX_SITE_NAME_CHARS,
  parseDate,
  parseDateTime,
  parseFloorAreaM2,
  parseIsActive,
  parseLatitude,
  parseLongitude,
  parseMeterCode,
  parseOptionalId,
  parsePostcode,
  parseReadingKwh,
  parseReadingType,
  parseSiteType,
  parseText,
  parseTimeOfDay,
  parseUnit,
  quoteValue,
  scaleDecimal,
  unitShift,
} from './values.js';

export type ReadingRow = {
  meterCode: string;
  /** YYYY-MM-DD, local. */
  readingDate: string;
  /** HH:MM:SS, local wall-clock start of the interval; 00:00:00 for daily readings. */
  readingTime: string;
  /** 1..48 for half-hourly readings, null for daily ones (so they never collide with period 1). */
  periodNumber: number | null;
  /** kWh as a DECIMAL(12,4) literal, e.g. `0.0056`. */
  valueKwh: string;
  readingType: ReadingType;
  /** The unit the value was written in, for the summary's `unit_counts`. */
  unit: Unit;
};

export type SiteRow = {
  name: string;
  companyId: number | null;
  regionId: number | null;
  address: string | null;
  postcode: string | null;
  siteType: SiteType;
  floorAreaM2: number | null;
  latitude: number | null;
  longitude: number | null;
  isActive: boolean;
};

/**
 * What one data record maps to: readings, a site, a row error, or `blank` (every cell is empty, as
 * spreadsheets export; skipped, and neither an error nor a processed row). The one result type of
 * every mapper, so the processor's row loop reads the same for every layout.
 */
export type MappedRecord =
  | { kind: 'rows'; rows: ReadingRow[] }
  | { kind: 'site'; site: SiteRow }
  | { kind: 'error'; message: string }
  | { kind: 'blank' };

export type ReadingRecordResult = Exclude<MappedRecord, { kind: 'site' }>;
export type SiteRecordResult = Exclude<MappedRecord, { kind: 'rows' }>;

/**
 * Maps one record's fields. Fields are looked up by the header's positions: extra trailing fields are
 * ignored and missing trailing fields read as empty, so ragged rows are judged on their content.
 */
export type RecordMapper = (fields: readonly string[]) => MappedRecord;
export type ReadingMapper = (fields: readonly string[]) => ReadingRecordResult;
export type SiteMapper = (fields: readonly string[]) => SiteRecordResult;

/** `Row N: message`, N being the 1-based data row (the header is not counted). */
export function formatRowError(rowNumber: number, message: string): string {
  return `Row ${rowNumber}: ${message}`;
}

const BLANK = { kind: 'blank' } as const;

function rowError(message: string): { kind: 'error'; message: string } {
  return { kind: 'error', message };
}

function cell(fields: readonly string[], index: number | null): string {
  return index === null ? '' : (fields[index] ?? '');
}

function isBlankRecord(fields: readonly string[]): boolean {
  return fields.every((field) => field.trim() === '');
}

/** Start time of each half-hour period: index 0 is period 1 (00:00:00), index 47 period 48 (23:30:00). */
const PERIOD_START_TIMES: readonly string[] = Array.from({ length: 48 }, (_, index) =>
  formatTimeOfDay({ hour: Math.floor(index / 2), minute: (index % 2) * 30, second: 0 }),
);

function periodStartTime(period: number): string {
  return PERIOD_START_TIMES[period - 1] ?? '00:00:00';
}

type RowContext = { unit: Unit; readingType: ReadingType };

/** Unit and reading type cells, shared by every reading in the record. */
function readRowContext(
  fields: readonly string[],
  columns: { unit: number | null; readingType: number | null },
  defaultUnit: Unit,
): Parsed<RowContext> {
  const unit = parseUnit(cell(fields, columns.unit), defaultUnit);
  if (!unit.ok) return unit;
  const readingType = parseReadingType(cell(fields, columns.readingType));
  if (!readingType.ok) return readingType;
  return { ok: true, value: { unit: unit.value, readingType: readingType.value } };
}

/**
 * A timestamp inside a half-hour is stored at that half-hour's start (00:44 → 00:30:00, period 2),
 * so the (meter, date, time) key and period_number always agree.
 */
function compileIntervalMapper(layout: HhIntervalLayout): ReadingMapper {
  const { columns, defaultUnit } = layout;
  const { timestamp } = columns;
  const readTimestamp: (fields: readonly string[]) => Parsed<LocalDateTime> =
    timestamp.kind === 'datetime'
      ? (fields) => parseDateTime(cell(fields, timestamp.datetime))
      : (fields) => {
          const date = parseDate(cell(fields, timestamp.date));
          if (!date.ok) return date;
          const time = parseTimeOfDay(cell(fields, timestamp.time));
          if (!time.ok) return time;
          return { ok: true, value: { date: date.value, time: time.value } };
        };

  return (fields) => {
    const meterCode = parseMeterCode(cell(fields, columns.meter));
    if (!meterCode.ok) return isBlankRecord(fields) ? BLANK : rowError(meterCode.reason);
    const when = readTimestamp(fields);
    if (!when.ok) return rowError('Invalid reading timestamp');
    const valueText = cell(fields, columns.value);
    if (valueText.trim() === '') return rowError('Missing reading value');
    const context = readRowContext(fields, columns, defaultUnit);
    if (!context.ok) return rowError(context.reason);
    const valueKwh = parseReadingKwh(valueText, context.value.unit);
    if (!valueKwh.ok) return rowError(valueKwh.reason);
    const period = Math.floor((when.value.time.hour * 60 + when.value.time.minute) / 30) + 1;
    return {
      kind: 'rows',
      rows: [
        {
          meterCode: meterCode.value,
          readingDate: when.value.date,
          readingTime: periodStartTime(period),
          periodNumber: period,
          valueKwh: valueKwh.value,
          readingType: context.value.readingType,
          unit: context.value.unit,
        },
      ],
    };
  };
}

const CELL_PROBLEM_ADJECTIVES: Readonly<Record<DecimalProblem, string>> = {
  empty: 'Missing',
  'not-a-number': 'Non-numeric',
  negative: 'Negative',
  'too-large': 'Out-of-range',
};

/** The meter code and date a matrix or daily record starts with, or the result to return instead. */
function readMeterDay(
  fields: readonly string[],
  columns: { readonly meter: number; readonly date: number },
): { kind: 'ok'; meterCode: string; date: string } | ReadingRecordResult {
  const meterCode = parseMeterCode(cell(fields, columns.meter));
  if (!meterCode.ok) return isBlankRecord(fields) ? BLANK : rowError(meterCode.reason);
  const dateText = cell(fields, columns.date);
  if (dateText.trim() === '') return rowError('Missing date value');
  const date = parseDate(dateText);
  if (!date.ok) return rowError('Invalid date value');
  return { kind: 'ok', meterCode: meterCode.value, date: date.value };
}

/** One meter-day per record: HHp becomes a reading at (p − 1) × 30 min; empty cells are skipped. */
function compileMatrixMapper(layout: HhMatrixLayout): ReadingMapper {
  const { columns, defaultUnit, periodColumns } = layout;
  return (fields) => {
    const meterDay = readMeterDay(fields, columns);
    if (meterDay.kind !== 'ok') return meterDay;
    const { meterCode, date } = meterDay;
    const context = readRowContext(fields, columns, defaultUnit);
    if (!context.ok) return rowError(context.reason);
    const shift = unitShift(context.value.unit);

    const rows: ReadingRow[] = [];
    for (const column of periodColumns) {
      const text = cell(fields, column.index);
      if (text.trim() === '') continue;
      const scaled = scaleDecimal(text, shift);
      if (!scaled.ok) {
        const adjective = CELL_PROBLEM_ADJECTIVES[scaled.problem];
        return rowError(`${adjective} value ${quoteValue(text.trim())} in column ${column.header}`);
      }
      rows.push({
        meterCode,
        readingDate: date,
        readingTime: periodStartTime(column.period),
        periodNumber: column.period,
        valueKwh: scaled.value,
        readingType: context.value.readingType,
        unit: context.value.unit,
      });
    }
    return { kind: 'rows', rows };
  };
}

/** Daily readings are stored at 00:00:00 with no period. */
function compileDailyMapper(layout: DailyLayout): ReadingMapper {
  const { columns, defaultUnit } = layout;
  return (fields) => {
    const meterDay = readMeterDay(fields, columns);
    if (meterDay.kind !== 'ok') return meterDay;
    const { meterCode, date } = meterDay;
    const valueText = cell(fields, columns.value);
    if (valueText.trim() === '') return rowError('Missing reading value');
    const context = readRowContext(fields, columns, defaultUnit);
    if (!context.ok) return rowError(context.reason);
    const valueKwh = parseReadingKwh(valueText, context.value.unit);
    if (!valueKwh.ok) return rowError(valueKwh.reason);
    return {
      kind: 'rows',
      rows: [
        {
          meterCode,
          readingDate: date,
          readingTime: '00:00:00',
          periodNumber: null,
          valueKwh: valueKwh.value,
          readingType: context.value.readingType,
          unit: context.value.unit,
        },
      ],
    };
  };
}

/** Built once per file: header positions are resolved here, so each record costs only lookups. */
export function compileReadingMapper(layout: ReadingLayout): ReadingMapper {
  switch (layout.format) {
    case 'hh-interval':
      return compileIntervalMapper(layout);
    case 'hh-matrix':
      return compileMatrixMapper(layout);
    case 'daily':
      return compileDailyMapper(layout);
  }
}

/** The mapper for any layout, reading or sites. */
export function compileRecordMapper(layout: ImportLayout): RecordMapper {
  return layout.format === 'sites' ? compileSiteMapper(layout) : compileReadingMapper(layout);
}

export function compileSiteMapper(layout: SitesLayout): SiteMapper {
  const { columns } = layout;
  return (fields) => {
    const name = parseText(cell(fields, columns.name), 'site name', MAX_SITE_NAME_CHARS, true);
    if (!name.ok || name.value === null) {
      if (isBlankRecord(fields)) return BLANK;
      return rowError(name.ok ? 'Missing site name' : name.reason);
    }
    const companyId = parseOptionalId(cell(fields, columns.companyId), 'company_id');
    if (!companyId.ok) return rowError(companyId.reason);
    const regionId = parseOptionalId(cell(fields, columns.regionId), 'region_id');
    if (!regionId.ok) return rowError(regionId.reason);
    const address = parseText(cell(fields, columns.address), 'address', MAX_ADDRESS_CHARS, false);
    if (!address.ok) return rowError(address.reason);
    const postcode = parsePostcode(cell(fields, columns.postcode));
    if (!postcode.ok) return rowError(postcode.reason);
    const siteType = parseSiteType(cell(fields, columns.siteType));
    if (!siteType.ok) return rowError(siteType.reason);
    const floorArea = parseFloorAreaM2(cell(fields, columns.floorArea));
    if (!floorArea.ok) return rowError(floorArea.reason);
    const latitude = parseLatitude(cell(fields, columns.latitude));
    if (!latitude.ok) return rowError(latitude.reason);
    const longitude = parseLongitude(cell(fields, columns.longitude));
    if (!longitude.ok) return rowError(longitude.reason);
    const isActive = parseIsActive(cell(fields, columns.isActive));
    if (!isActive.ok) return rowError(isActive.reason);
    return {
      kind: 'site',
      site: {
        name: name.value,
        companyId: companyId.value,
        regionId: regionId.value,
        address: address.value,
        postcode: postcode.value,
        siteType: siteType.value,
        floorAreaM2: floorArea.value,
        latitude: latitude.value,
        longitude: longitude.value,
        isActive: isActive.value,
      },
    };
  };
}
