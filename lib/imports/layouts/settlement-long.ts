// The settlement long format: one reading per row named by its settlement date and period
// (`MPANCore,Sett Date,Sett Period,Type,Meter Read`). Period n of a date starts at its local midnight
// plus (n − 1) half-hours; a period the day does not have (47 on a 46-period day) is a row error.

import { periodStartUtcMs } from '../../time/settlement-calendar.js';
import { parseReadingKwh, quoteValue } from '../values.js';
import { cell, createMeterReader, readRowContext, readSettlementDay, rowError } from './cells.js';
import {
  columnMappingOf,
  DATE_ALIASES,
  findColumn,
  findMeterColumn,
  PERIOD_ALIASES,
  scanHeaders,
  TYPE_ALIASES,
  UNIT_ALIASES,
  unitOfValueHeader,
  VALUE_ALIASES,
} from './headers.js';
import { type LayoutDefinition, type LayoutMiss, miss, type ReadingLayoutPlan } from './layout.js';

const PERIOD_NUMBER = /^\d{1,2}$/;

function planSettlementLong(headers: readonly string[]): ReadingLayoutPlan | LayoutMiss {
  const scan = scanHeaders(headers);
  const period = findColumn(scan, PERIOD_ALIASES);
  if (period === null) return miss('no settlement period column (e.g. Sett Period)');
  const date = findColumn(scan, DATE_ALIASES);
  if (date === null) return miss('no settlement date column (e.g. Sett Date)');
  const value = findColumn(scan, VALUE_ALIASES);
  if (value === null) return miss('no reading value column (e.g. Meter Read)');
  const meter = findMeterColumn(scan);
  const unit = findColumn(scan, UNIT_ALIASES);
  const readingType = findColumn(scan, TYPE_ALIASES);
  const defaultUnit = unitOfValueHeader(scan, value);
  return {
    kind: 'readings',
    name: 'hh-settlement',
    importType: 'hh',
    columnMapping: columnMappingOf(scan, { meter, date, period, value, unit, reading_type: readingType }),
    meterColumn: meter,
    compile: ({ meterCode }) => {
      const readMeter = createMeterReader(meter, meterCode);
      const contextColumns = { unit, readingType };
      return (fields) => {
        const meterResult = readMeter(fields);
        if (!('ok' in meterResult)) return meterResult;
        const day = readSettlementDay(cell(fields, date));
        if (!day.ok) return rowError(day.reason);
        const periodText = cell(fields, period).trim();
        const periodNumber = PERIOD_NUMBER.test(periodText) ? Number(periodText) : 0;
        if (periodNumber < 1) return rowError(`Invalid settlement period ${quoteValue(periodText)}`);
        if (periodNumber > day.value.periodCount) {
          return rowError(
            `Settlement period ${periodNumber}, but ${day.value.date} has ${day.value.periodCount} half-hours`,
          );
        }
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
              period: periodNumber,
              startUtcMs: periodStartUtcMs(day.value, periodNumber),
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

export const settlementLongLayout: LayoutDefinition = {
  name: 'hh-settlement',
  importType: 'hh',
  exampleHeader: 'MPANCore,Sett Date,Sett Period,Type,Meter Read',
  match: planSettlementLong,
};
