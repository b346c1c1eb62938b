// Single-meter exports with no meter column, the meter named in the request. The model case is
// Octopus Energy's consumption export: `Consumption (kwh), Estimated Cost Inc. Tax (p)[, Standing
// Charge Inc. Tax (p)], Start, End`, ISO timestamps with offsets. Cost columns are ignored.

import { PERIOD_MS } from '../../time/settlement-calendar.js';
import { type Parsed, parseReadingKwh, parseTimestamp, type Timestamp } from '../values.js';
import { cell, createMeterReader, rowError } from './cells.js';
import { columnMappingOf, findColumn, findMeterColumn, scanHeaders } from './headers.js';
import { type LayoutDefinition, type LayoutMiss, miss, type ReadingLayoutPlan } from './layout.js';
import { placeTimestamp } from './long.js';

const CONSUMPTION_HEADERS = ['consumptionkwh'];
const START_HEADERS = ['start', 'intervalstart'];
const END_HEADERS = ['end', 'intervalend'];

/** The instant a timestamp names when it carries an offset (the export always writes one). */
function instantOf(timestamp: Timestamp): number | null {
  if (timestamp.offsetMinutes === null) return null;
  const [year, month, day] = timestamp.date.split('-').map(Number);
  if (year === undefined || month === undefined || day === undefined) return null;
  const { hour, minute, second } = timestamp.time;
  return Date.UTC(year, month - 1, day, hour, minute, second) - timestamp.offsetMinutes * 60_000;
}

/** End must be Start plus half an hour when both carry offsets: anything else is not a half-hour reading. */
function checkEnd(start: Timestamp, endText: string): Parsed<null> {
  if (endText.trim() === '') return { ok: true, value: null };
  const end = parseTimestamp(endText);
  if (!end.ok) return { ok: false, reason: `Invalid End: ${end.reason}` };
  const startMs = instantOf(start);
  const endMs = instantOf(end.value);
  if (startMs === null || endMs === null || endMs - startMs === PERIOD_MS) return { ok: true, value: null };
  return { ok: false, reason: 'Start and End are not half an hour apart' };
}

function planOctopus(headers: readonly string[]): ReadingLayoutPlan | LayoutMiss {
  const scan = scanHeaders(headers);
  const value = findColumn(scan, CONSUMPTION_HEADERS);
  if (value === null) return miss('no Consumption (kwh) column');
  const start = findColumn(scan, START_HEADERS);
  if (start === null) return miss('no Start column');
  const end = findColumn(scan, END_HEADERS);
  const meter = findMeterColumn(scan);
  return {
    kind: 'readings',
    name: 'hh-octopus',
    importType: 'hh',
    columnMapping: columnMappingOf(scan, { meter, start, end, value }),
    meterColumn: meter,
    compile: ({ meterCode, tracker }) => {
      const readMeter = createMeterReader(meter, meterCode);
      return (fields) => {
        const meterResult = readMeter(fields);
        if (!('ok' in meterResult)) return meterResult;
        const startAt = parseTimestamp(cell(fields, start));
        if (!startAt.ok) return rowError(`Invalid reading timestamp: ${startAt.reason}`);
        const endCheck = checkEnd(startAt.value, cell(fields, end));
        if (!endCheck.ok) return rowError(endCheck.reason);
        const valueText = cell(fields, value);
        if (valueText.trim() === '') return rowError('Missing reading value');
        const kwh = parseReadingKwh(valueText, 'kWh');
        if (!kwh.ok) return rowError(kwh.reason);
        const placed = placeTimestamp(startAt.value, null, meterResult.value, tracker);
        if (!placed.ok) return rowError(placed.reason);
        return {
          kind: 'rows',
          rows: [
            { meterCode: meterResult.value, ...placed.value, kwh: kwh.value, type: 'actual', unit: 'kWh' },
          ],
        };
      };
    },
  };
}

export const octopusLayout: LayoutDefinition = {
  name: 'hh-octopus',
  importType: 'hh',
  exampleHeader: 'Consumption (kwh), Estimated Cost Inc. Tax (p), Standing Charge Inc. Tax (p), Start, End',
  match: planOctopus,
};
