// Per-record helpers every reading layout uses: the meter (from its column or the request), the
// settlement day of a date cell, and the unit and reading-type cells. Return reasons, never throw.

import { type SettlementDay, settlementDay } from '../../time/settlement-calendar.js';
import {
  type Parsed,
  parseDate,
  parseMeterCode,
  parseReadingType,
  parseUnit,
  quoteValue,
  type ReadingType,
  type Unit,
} from '../values.js';
import type { ReadingRecordResult } from './layout.js';

export const BLANK: ReadingRecordResult = { kind: 'blank' };

export function rowError(message: string): ReadingRecordResult {
  return { kind: 'error', message };
}

export function cell(fields: readonly string[], index: number | null): string {
  return index === null ? '' : (fields[index] ?? '');
}

export function isBlankRecord(fields: readonly string[]): boolean {
  return fields.every((field) => field.trim() === '');
}

/**
 * Reads the meter of a record: from its column, or the request's code when the file has none. A
 * missing code in an otherwise empty record makes the record blank rather than an error.
 */
export function createMeterReader(
  meterColumn: number | null,
  requestMeterCode: string | null,
): (fields: readonly string[]) => { ok: true; value: string } | ReadingRecordResult {
  if (meterColumn === null) {
    const code = requestMeterCode ?? '';
    return (fields) => (isBlankRecord(fields) ? BLANK : { ok: true, value: code });
  }
  return (fields) => {
    const parsed = parseMeterCode(cell(fields, meterColumn));
    if (parsed.ok) return parsed;
    return isBlankRecord(fields) ? BLANK : rowError(parsed.reason);
  };
}

/** A date cell as a settlement day: a real date the UK calendar covers (1996..2100). */
export function readSettlementDay(text: string): Parsed<SettlementDay> {
  if (text.trim() === '') return { ok: false, reason: 'Missing date value' };
  const date = parseDate(text);
  if (!date.ok) return { ok: false, reason: `Invalid date value ${quoteValue(text.trim())}` };
  const day = settlementDay(date.value);
  if (day === null) return { ok: false, reason: `Date ${date.value} is outside 1996–2100` };
  return { ok: true, value: day };
}

export type RowContext = { readonly unit: Unit; readonly readingType: ReadingType };

/** The unit and reading-type cells shared by every reading in the record. */
export function readRowContext(
  fields: readonly string[],
  columns: { readonly unit: number | null; readonly readingType: number | null },
  defaultUnit: Unit,
): Parsed<RowContext> {
  const unit = parseUnit(cell(fields, columns.unit), defaultUnit);
  if (!unit.ok) return unit;
  const readingType = parseReadingType(cell(fields, columns.readingType));
  if (!readingType.ok) return readingType;
  return { ok: true, value: { unit: unit.value, readingType: readingType.value } };
}
