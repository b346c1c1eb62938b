// Daily readings: `MPAN,Date,Reading[,Unit][,ReadingType]`, one per meter and settlement date, stored
// with no period and starting at the date's local midnight (as a UTC instant).

import { parseReadingKwh } from '../values.js';
import { cell, createMeterReader, readRowContext, readSettlementDay, rowError } from './cells.js';
import {
  columnMappingOf,
  DATE_ALIASES,
  DATETIME_ALIASES,
  findColumn,
  findMeterColumn,
  scanHeaders,
  TYPE_ALIASES,
  UNIT_ALIASES,
  unitOfValueHeader,
  VALUE_ALIASES,
} from './headers.js';
import { type LayoutDefinition, type LayoutMiss, miss, type ReadingLayoutPlan } from './layout.js';

function planDaily(headers: readonly string[]): ReadingLayoutPlan | LayoutMiss {
  const scan = scanHeaders(headers);
  // A date-time column can stand in for the date; parseDate accepts midnight date-times.
  const date = findColumn(scan, DATE_ALIASES) ?? findColumn(scan, DATETIME_ALIASES);
  if (date === null)
    return miss('CSV must include a date column (e.g. Date or ReadDate)', 'missing-date-column');
  const value = findColumn(scan, VALUE_ALIASES);
  if (value === null) {
    return miss(
      'CSV must include a reading value column (e.g. Reading, ReadValue or kWh)',
      'missing-value-column',
    );
  }
  const meter = findMeterColumn(scan);
  const unit = findColumn(scan, UNIT_ALIASES);
  const readingType = findColumn(scan, TYPE_ALIASES);
  const defaultUnit = unitOfValueHeader(scan, value);
  return {
    kind: 'readings',
    name: 'daily',
    importType: 'daily',
    columnMapping: columnMappingOf(scan, { meter, date, value, unit, reading_type: readingType }),
    meterColumn: meter,
    compile: ({ meterCode }) => {
      const readMeter = createMeterReader(meter, meterCode);
      const contextColumns = { unit, readingType };
      return (fields) => {
        const meterResult = readMeter(fields);
        if (!('ok' in meterResult)) return meterResult;
        const day = readSettlementDay(cell(fields, date));
        if (!day.ok) return rowError(day.reason);
        const valueText = cell(fields, value);
        if (valueText.trim() === '') return rowError('Missing reading value');
        const context = readRowContext(fields, contextColumns, defaultUnit);
        if (!context.ok) return rowError(context.reason);
        const kwh = parseReadingKwh(valueText, context.value.unit);
        if (!kwh.ok) return rowError(kwh.reason);
        return {
          kind: 'rows',
          rows: [
            {
              meterCode: meterResult.value,
              settlementDate: day.value.date,
              period: null,
              startUtcMs: day.value.midnightUtcMs,
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

export const dailyLayout: LayoutDefinition = {
  name: 'daily',
  importType: 'daily',
  exampleHeader: 'MPAN,Date,Reading,Unit,ReadingType',
  match: planDaily,
};
