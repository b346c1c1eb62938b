import { describe, expect, it } from 'vitest';
import { parseCsvText } from '../../../../lib/imports/csv-reader.js';
import { FileFormatError } from '../../../../lib/imports/formats.js';
import { LAYOUT_NAMES, LayoutError } from '../../../../lib/imports/layouts/layout.js';
import {
  LAYOUTS,
  layoutNamesFor,
  parseFormatName,
  parseMeterParameter,
  resolveLayout,
  resolveLayoutFromHead,
} from '../../../../lib/imports/layouts/registry.js';
import { importText, iso } from './import-text.js';

const HH = (n: number) => Array.from({ length: n }, (_, i) => `HH${String(i + 1).padStart(2, '0')}`);
const START_TIMES = Array.from(
  { length: 48 },
  (_, i) => `${String(Math.floor(i / 2)).padStart(2, '0')}:${i % 2 === 0 ? '00' : '30'}`,
);

function layoutError(run: () => unknown): LayoutError {
  try {
    run();
  } catch (error) {
    if (error instanceof LayoutError) return error;
    throw error;
  }
  throw new Error('expected a LayoutError');
}

function row(cells: Record<number, string>, width: number): string {
  return Array.from({ length: width }, (_, i) => cells[i] ?? '').join(',');
}

describe('registry', () => {
  it('lists every layout name once, each with an example header', () => {
    expect(LAYOUTS.map((layout) => layout.name)).toEqual([...LAYOUT_NAMES]);
    for (const layout of LAYOUTS) expect(layout.exampleHeader.length).toBeGreaterThan(5);
  });

  it.each([
    [['MPAN', 'Date', ...HH(48)], 'hh-matrix'],
    [['MPAN', 'Date', ...HH(50)], 'hh-matrix'],
    [['MPAN', 'Date', ...HH(48).map((h) => h.replace('HH0', 'HH'))], 'hh-matrix'],
    [['MPAN', 'Date', ...Array.from({ length: 48 }, (_, i) => String(i + 1))], 'hh-matrix'],
    [['MPAN', 'Date', ...Array.from({ length: 50 }, (_, i) => `P${i + 1}`)], 'hh-matrix'],
    [['MPAN', 'Date', ...Array.from({ length: 48 }, (_, i) => `Period ${i + 1}`)], 'hh-matrix'],
    [['MPAN', 'Date', ...HH(48).flatMap((h) => [h, 'Type'])], 'hh-matrix-flags'],
    [['MPAN', 'Date', ...HH(48).flatMap((h) => [h, `${h} Flag`])], 'hh-matrix-flags'],
    [['MPAN', 'Date', ...START_TIMES], 'hh-time'],
    [['MPAN', 'Date', ...START_TIMES.map((t) => t.replace(':', ''))], 'hh-time'],
    [['MPAN', 'Date', ...START_TIMES.flatMap((t) => [t, 'Type'])], 'hh-time-flags'],
    [['MPAN', 'Date', ...START_TIMES.slice(1), '24:00'], 'hh-time-end'],
    [['MPAN', 'Date', ...START_TIMES.slice(1).map((t) => t.replace(':', '')), '2400'], 'hh-time-end'],
    [
      ['MPAN', 'Date', ...START_TIMES.slice(1).map((t) => String(Number(t.replace(':', '')))), '2400'],
      'hh-time-end',
    ],
    [['MPAN', 'ReadDateTime', 'ReadValue', 'Unit', 'ReadingType'], 'hh-interval'],
    [['MPAN', 'Date', 'Time', 'kWh'], 'hh-interval'],
    [['MPANCore', 'Sett Date', 'Sett Period', 'Type', 'Meter Read'], 'hh-settlement'],
  ])('detects %j as %s', (headers, name) => {
    expect(resolveLayout('hh', headers).name).toBe(name);
  });

  it('detects the Octopus export when the request names the meter', () => {
    const headers = ['Consumption (kwh)', ' Estimated Cost Inc. Tax (p)', ' Start', ' End'];
    expect(resolveLayout('hh', headers, { meterCode: 'X1' }).name).toBe('hh-octopus');
  });

  it('ignores customer, address, units, totals, data quality and a meter serial beside the MPAN', () => {
    const headers = ['Customer', 'Meter Serial', 'MPAN', 'Site Name', 'Address', 'Date', 'Units', ...HH(48)];
    const plan = resolveLayout('hh', [...headers, 'Total', 'Total kWh', 'Data Quality (% Complete)']);
    expect(plan.name).toBe('hh-matrix');
    expect(plan.columnMapping.meter).toBe('MPAN');
  });

  it('refuses headers no layout fits, showing them and each family’s reason', () => {
    const error = layoutError(() => resolveLayout('hh', ['MPAN', 'Date', 'Foo']));
    expect(error.code).toBe('unknown-layout');
    expect(error.statusCode).toBe(422);
    expect(error.headers).toEqual(['MPAN', 'Date', 'Foo']);
    expect(error.message).toContain('Headers detected: MPAN, Date, Foo');
    expect(error.message).toContain('hh-matrix: no numbered half-hour columns');
    expect(error).toBeInstanceOf(FileFormatError);
  });

  it('refuses headers that fit two layouts unless format names one', () => {
    const headers = ['MPAN', 'Date', 'Time', 'Sett Period', 'kWh'];
    const error = layoutError(() => resolveLayout('hh', headers));
    expect(error.code).toBe('ambiguous-layout');
    expect(error.message).toContain('hh-interval, hh-settlement');
    expect(resolveLayout('hh', headers, { format: 'hh-settlement' }).name).toBe('hh-settlement');
  });

  it('refuses a format whose layout does not fit the headers, saying why', () => {
    const error = layoutError(() => resolveLayout('hh', ['MPAN', 'Date', ...HH(48)], { format: 'hh-time' }));
    expect(error.code).toBe('invalid-columns');
    expect(error.message).toContain('do not fit layout hh-time: no time-labelled half-hour columns');
  });

  it('names the layouts of the import type for an unknown format (400)', () => {
    expect(parseFormatName('hh', undefined)).toBeUndefined();
    expect(parseFormatName('hh', 'hh-octopus')).toBe('hh-octopus');
    const error = layoutError(() => parseFormatName('hh', 'daily'));
    expect(error.statusCode).toBe(400);
    expect(error.code).toBe('unknown-format');
    expect(error.message).toBe(`format must be one of the hh layouts: ${layoutNamesFor('hh').join(', ')}`);
  });

  it('refuses a meter parameter on a file with a meter column', () => {
    const error = layoutError(() =>
      resolveLayout('hh', ['MPAN', 'ReadDateTime', 'ReadValue'], { meterCode: 'X1' }),
    );
    expect(error.code).toBe('meter-parameter-conflict');
    expect(error.statusCode).toBe(422);
  });

  it('asks for the meter parameter when the file has no meter column', () => {
    const error = layoutError(() => resolveLayout('hh', ['Consumption (kwh)', 'Start', 'End']));
    expect(error.code).toBe('missing-meter-column');
    expect(error.message).toContain('meter=<code>');
    expect(error.message).toContain('Headers detected: Consumption (kwh), Start, End');
  });

  it('validates the meter parameter itself', () => {
    expect(parseMeterParameter(' E06BG12862 ')).toBe('E06BG12862');
    expect(parseMeterParameter('')).toBeUndefined();
    expect(layoutError(() => parseMeterParameter('=cmd|x')).statusCode).toBe(400);
  });

  it.each([
    [['MPAN', 'Date', ...HH(47), 'HH47'], 'both name period 47'],
    [['MPAN', 'Date', ...HH(45)], '45 period columns'],
    [['MPAN', 'Date', ...HH(48), 'HH51'], 'HH51 is not a period'],
    [['MPAN', 'Date', ...HH(48).filter((h) => h !== 'HH07')], 'no column for period 7'],
    [['MPAN', 'Date', ...START_TIMES.filter((t) => t !== '13:30')], 'no half-hour column for 13:30'],
    [['MPAN', 'Date', ...START_TIMES, '24:00'], 'both 00:00 and 24:00'],
    [['MPAN', 'Date', ...START_TIMES, '05:00'], '05:00 appears more than once'],
  ])('refuses the malformed wide header %#', (headers, reason) => {
    expect(layoutError(() => resolveLayout('hh', headers)).message).toContain(reason);
  });

  it('reads one type column after the last value as the row’s type, not as flags', () => {
    const text = `${['MPAN', 'Date', ...HH(48), 'Status'].join(',')}\n${row({ 0: 'M1', 1: '01/06/2025', 2: '1', 50: 'E' }, 51)}\n`;
    const outcome = importText(text);
    expect(outcome.name).toBe('hh-matrix');
    expect(outcome.readings.map((r) => r.type)).toEqual(['estimated']);
  });

  it('refuses flags on only some value columns', () => {
    const headers = ['MPAN', 'Date', ...HH(48).flatMap((h, i) => (i < 10 ? [h, 'Type'] : [h]))];
    expect(layoutError(() => resolveLayout('hh', headers)).message).toContain(
      '10 of 48 value columns have a flag column after them, but HH11 has none',
    );
  });

  it('keeps the old file errors for daily and sites', () => {
    expect(layoutError(() => resolveLayout('daily', ['MPAN', 'Reading'])).code).toBe('missing-date-column');
    expect(layoutError(() => resolveLayout('daily', ['MPAN', 'Date'])).code).toBe('missing-value-column');
    expect(layoutError(() => resolveLayout('sites', ['postcode'])).code).toBe('missing-name-column');
    expect(resolveLayout('sites', ['name', 'postcode']).name).toBe('sites');
  });

  it('reads the layout from the first bytes of an upload, ignoring an unfinished last line', () => {
    const head = Buffer.from('Consumption (kwh), Start, End\n 0.1, 2025-01-01T00:00:00Z, 2025-01-01T00:3');
    expect(resolveLayoutFromHead('hh', head, { isTruncated: true, meterCode: 'E1' }).name).toBe('hh-octopus');
    expect(() => resolveLayoutFromHead('hh', '', { isTruncated: false })).toThrow(/no header row/);
  });

  it('refuses an empty header row as before', () => {
    const { records } = parseCsvText('\ufeff,,\n', { isTruncated: false });
    expect(() => resolveLayout('hh', records[0]?.fields ?? [])).toThrow(/no header row/);
  });
});

describe('wide rows', () => {
  const header = ['MPAN', 'Date', ...HH(50)].join(',');
  const width = 52;

  it('imports HH49 and HH50 on the 50-period autumn day', () => {
    const outcome = importText(
      `${header}\n${row({ 0: 'M1', 1: '26/10/2025', 50: '1.5', 51: '2' }, width)}\n`,
    );
    expect(outcome.errors).toEqual([]);
    expect(outcome.readings.map((r) => [r.period, iso(r.startUtcMs), r.kwh])).toEqual([
      [49, '2025-10-26T23:00:00Z', '1.5'],
      [50, '2025-10-26T23:30:00Z', '2'],
    ]);
  });

  it.each([
    ['30/03/2025', 48, 'HH47', '2025-03-30 has 46 half-hours (the clocks go forward)'],
    ['29/03/2026', 48, 'HH47', '2026-03-29 has 46 half-hours (the clocks go forward)'],
    ['01/06/2025', 50, 'HH49', '2025-06-01 has 48 half-hours'],
    ['25/10/2026', 50, 'HH49', ''],
  ])('on %s a value in column %i (%s) is a row error', (date, column, name, reason) => {
    const outcome = importText(`${header}\n${row({ 0: 'M1', 1: date, [column]: '1' }, width)}\n`);
    if (reason === '') {
      expect(outcome.errors).toEqual([]);
      expect(outcome.readings).toHaveLength(1);
    } else {
      expect(outcome.errors).toEqual([`Row 1: Value in column ${name}, but ${reason}`]);
    }
  });

  it('rejects a bad cell naming its column, and a bad flag naming the value column', () => {
    const flagged = ['MPAN', 'Date', ...HH(48).flatMap((h) => [h, 'Type'])].join(',');
    const bad = importText(`${header}\n${row({ 0: 'M1', 1: '01/06/2025', 8: 'x' }, width)}\n`);
    expect(bad.errors).toEqual(['Row 1: Non-numeric value "x" in column HH07']);
    const badFlag = importText(`${flagged}\n${row({ 0: 'M1', 1: '01/06/2025', 2: '1', 3: 'Q' }, 98)}\n`);
    expect(badFlag.errors).toEqual(['Row 1: Unknown reading type "Q" in the flag column after HH01']);
  });

  it('applies each flag to the value before it', () => {
    const flagged = ['MPAN', 'Date', ...HH(48).flatMap((h) => [h, 'Type'])].join(',');
    const outcome = importText(
      `${flagged}\n${row({ 0: 'M1', 1: '01/06/2025', 2: '1', 3: 'E', 4: '2', 5: 'A' }, 98)}\n`,
    );
    expect(outcome.readings.map((r) => [r.period, r.type])).toEqual([
      [1, 'estimated'],
      [2, 'actual'],
    ]);
  });

  it('converts a Wh units column and refuses an unknown unit', () => {
    const withUnits = ['MPAN', 'Date', 'Units', ...HH(48)].join(',');
    const wh = importText(`${withUnits}\n${row({ 0: 'M1', 1: '01/06/2025', 2: 'Wh', 3: '1500' }, 51)}\n`);
    expect(wh.readings.map((r) => r.kwh)).toEqual(['1.5']);
    const kva = importText(`${withUnits}\n${row({ 0: 'M1', 1: '01/06/2025', 2: 'kVArh', 3: '1' }, 51)}\n`);
    expect(kva.errors).toEqual(['Row 1: Unknown unit "kVArh"']);
  });

  it('skips blank rows and refuses a date outside the calendar', () => {
    const outcome = importText(
      `${header}\n${row({}, width)}\n${row({ 0: 'M1', 1: '01/06/1990', 2: '1' }, width)}\n`,
    );
    expect(outcome.blank).toBe(1);
    expect(outcome.errors).toEqual(['Row 2: Date 1990-06-01 is outside 1996–2100']);
  });
});

describe('time-labelled rows', () => {
  const header = ['MPAN', 'Date', ...START_TIMES].join(',');
  const col = (time: string) => START_TIMES.indexOf(time) + 2;

  it.each([
    ['30/03/2025', '01:00'],
    ['30/03/2025', '01:30'],
    ['29/03/2026', '01:00'],
  ])('on %s a value in column %s is a row error naming the clock change', (date, time) => {
    const outcome = importText(`${header}\n${row({ 0: 'M1', 1: date, [col(time)]: '1' }, 50)}\n`);
    expect(outcome.errors).toEqual([
      `Row 1: Value in column ${time}, but ${date.split('/').reverse().join('-')} has no ${time}: UK clocks go forward from 01:00 GMT to 02:00 BST`,
    ]);
  });

  it('on the spring day 02:00 is period 3 (01:00Z)', () => {
    const outcome = importText(`${header}\n${row({ 0: 'M1', 1: '2025-03-30', [col('02:00')]: '1' }, 50)}\n`);
    expect(outcome.readings.map((r) => [r.period, iso(r.startUtcMs)])).toEqual([[3, '2025-03-30T01:00:00Z']]);
  });

  it('with one 01:00 column reads it as the BST hour on the autumn day (the GMT hour is simply absent)', () => {
    const outcome = importText(
      `${header}\n${row({ 0: 'M1', 1: '2026-10-25', [col('01:00')]: '1', [col('02:00')]: '2' }, 50)}\n`,
    );
    expect(outcome.readings.map((r) => [r.period, iso(r.startUtcMs)])).toEqual([
      [3, '2026-10-25T00:00:00Z'],
      [7, '2026-10-25T02:00:00Z'],
    ]);
  });

  it('refuses a value in the repeated-hour column on a day without a clock change', () => {
    const repeated = [
      'MPAN',
      'Date',
      ...START_TIMES.slice(0, 4),
      '01:00',
      '01:30',
      ...START_TIMES.slice(4),
    ].join(',');
    const outcome = importText(`${repeated}\n${row({ 0: 'M1', 1: '2025-06-01', 6: '1' }, 52)}\n`);
    expect(outcome.errors).toEqual([
      'Row 1: Value in column 01:00 (the repeated 01:00–01:59 hour), but the clocks do not go back on 2025-06-01',
    ]);
  });
});

describe('long rows', () => {
  const header = 'MPAN,ReadDateTime,ReadValue';

  it('reads a zone-less autumn 01:30 as BST first, GMT second, and refuses a third', () => {
    const text = `${header}\nM1,2025-10-26 01:30,1\nM2,2025-10-26 01:30,5\nM1,2025-10-26 01:30,2\nM1,2025-10-26 01:30,3\n`;
    const outcome = importText(text);
    expect(outcome.readings.map((r) => [r.meterCode, r.period, iso(r.startUtcMs), r.kwh])).toEqual([
      ['M1', 4, '2025-10-26T00:30:00Z', '1'],
      ['M2', 4, '2025-10-26T00:30:00Z', '5'],
      ['M1', 6, '2025-10-26T01:30:00Z', '2'],
    ]);
    expect(outcome.errors).toEqual([
      'Row 4: Local time 2025-10-26 01:30 appears a third time for this meter; it happens only twice (BST, then GMT)',
    ]);
  });

  it('counts occurrences per meter case-insensitively, as meters compare', () => {
    const outcome = importText(`${header}\nm1,2026-10-25 01:00,1\nM1,2026-10-25 01:00,2\n`);
    expect(outcome.readings.map((r) => iso(r.startUtcMs))).toEqual([
      '2026-10-25T00:00:00Z',
      '2026-10-25T01:00:00Z',
    ]);
  });

  it.each(['2025-03-30 01:00', '30/03/2025 01:45', '2026-03-29 01:30'])(
    'refuses the nonexistent local time %s naming the clock change',
    (when) => {
      const outcome = importText(`${header}\nM1,${when},1\n`);
      expect(outcome.errors[0]).toMatch(
        /^Row 1: Local time .* does not exist: UK clocks go forward from 01:00 GMT to 02:00 BST on/,
      );
    },
  );

  it('honours Z and offsets: the two autumn 01:00s are two readings', () => {
    const text = `${header}\nM1,2025-10-26T01:00:00+01:00,1\nM1,2025-10-26T01:00:00+00:00,2\nM1,2025-10-26T01:00:00Z,3\nM1,2025-03-30T01:30:00Z,4\n`;
    const outcome = importText(text);
    expect(outcome.errors).toEqual([]);
    expect(outcome.readings.map((r) => [r.settlementDate, r.period, iso(r.startUtcMs)])).toEqual([
      ['2025-10-26', 3, '2025-10-26T00:00:00Z'],
      ['2025-10-26', 5, '2025-10-26T01:00:00Z'],
      ['2025-10-26', 5, '2025-10-26T01:00:00Z'],
      ['2025-03-30', 4, '2025-03-30T01:30:00Z'],
    ]);
  });

  it('puts an instant on its settlement date even when the written date differs', () => {
    const outcome = importText(`${header}\nM1,2025-06-01T23:30:00Z,1\n`);
    expect(outcome.readings.map((r) => [r.settlementDate, r.period])).toEqual([['2025-06-02', 2]]);
  });

  it.each([
    ['MPAN,Date (UTC),kWh', 'M1,2025-10-26 01:00,1', '2025-10-26T01:00:00Z'],
    ['MPAN,ReadDateTime_UTC,kWh', 'M1,2025-07-01 12:00,1', '2025-07-01T12:00:00Z'],
    ['MPAN,Date (Local),kWh', 'M1,2025-07-01 12:00,1', '2025-07-01T11:00:00Z'],
    ['MPAN,Date (GMT),Time,kWh', 'M1,2025-07-01,12:00,1', '2025-07-01T12:00:00Z'],
    ['MPAN,Date,Time,kWh', 'M1,26-Oct-2025,03:00,1', '2025-10-26T03:00:00Z'],
    ['MPAN,Date,Time,kWh', 'M1,26/10/25,00:30,1', '2025-10-25T23:30:00Z'],
  ])('a %s header decides what zone-less values mean', (head, line, start) => {
    const outcome = importText(`${head}\n${line}\n`);
    expect(outcome.errors).toEqual([]);
    expect(outcome.readings.map((r) => iso(r.startUtcMs))).toEqual([start]);
  });

  it.each([
    ['MPAN,Interval End,kWh', 'M1,2025-10-26 00:30,1', '2025-10-26', 1, '2025-10-25T23:00:00Z'],
    ['MPAN,Interval End,kWh', 'M1,2025-10-26 24:00,1', '2025-10-26', 50, '2025-10-26T23:30:00Z'],
    ['MPAN,Interval End,kWh', 'M1,2025-10-26 00:00,1', '2025-10-25', 48, '2025-10-25T22:30:00Z'],
    ['MPAN,Interval End,kWh', 'M1,2025-10-26T24:00:00Z,1', '2025-10-26', 50, '2025-10-26T23:30:00Z'],
    ['MPAN,Interval End,kWh', 'M1,2025-10-26T01:00:00+00:00,1', '2025-10-26', 4, '2025-10-26T00:30:00Z'],
    ['MPAN,Date,End Time,kWh', 'M1,30/03/2025,24:00,1', '2025-03-30', 46, '2025-03-30T22:30:00Z'],
    ['MPAN,Date,End Time,kWh', 'M1,30/03/2025,02:30,1', '2025-03-30', 3, '2025-03-30T01:00:00Z'],
  ])('reads %s as end-labelled: %s starts in %s period %i at %s', (head, line, date, period, start) => {
    const outcome = importText(`${head}\n${line}\n`);
    expect(outcome.errors).toEqual([]);
    expect(outcome.readings.map((r) => [r.settlementDate, r.period, iso(r.startUtcMs)])).toEqual([
      [date, period, start],
    ]);
  });

  it('refuses an end label whose start falls in the spring gap, and 24:00 in a start-labelled column', () => {
    expect(importText('MPAN,Date,End Time,kWh\nM1,30/03/2025,02:00,1\n').errors[0]).toMatch(
      /Local time 2025-03-30 01:30 does not exist/,
    );
    expect(importText('MPAN,Date,Time,kWh\nM1,30/03/2025,24:00,1\n').errors).toEqual([
      'Row 1: Invalid reading timestamp: Invalid time "24:00"',
    ]);
  });

  it('rounds a time inside a half-hour down to its start', () => {
    const outcome = importText(`${header}\nM1,2025-10-26 02:44:10,1\n`);
    expect(outcome.readings.map((r) => [r.period, iso(r.startUtcMs)])).toEqual([[8, '2025-10-26T02:30:00Z']]);
  });

  it('names a bad timestamp and a missing value', () => {
    const outcome = importText(`${header}\nM1,soon,1\nM1,2025-01-01 00:00,\n`);
    expect(outcome.errors).toEqual([
      'Row 1: Invalid reading timestamp: Invalid date-time "soon"',
      'Row 2: Missing reading value',
    ]);
  });

  it('takes the meter from the request when the file has no meter column', () => {
    const outcome = importText('ReadDateTime,kWh\n2025-01-01 00:00,1\n', 'hh', { meterCode: 'E1' });
    expect(outcome.readings.map((r) => r.meterCode)).toEqual(['E1']);
  });
});

describe('settlement long rows', () => {
  const header = 'MPANCore,Sett Date,Sett Period,Type,Meter Read';

  it.each([
    ['30/03/2025', '47', 'Row 1: Settlement period 47, but 2025-03-30 has 46 half-hours'],
    ['01/06/2025', '49', 'Row 1: Settlement period 49, but 2025-06-01 has 48 half-hours'],
    ['01/06/2025', '0', 'Row 1: Invalid settlement period "0"'],
    ['01/06/2025', 'x', 'Row 1: Invalid settlement period "x"'],
  ])('on %s period %s is a row error', (date, period, message) => {
    expect(importText(`${header}\nM1,${date},${period},A,1\n`).errors).toEqual([message]);
  });

  it('imports period 50 of the autumn day at 23:30Z', () => {
    const outcome = importText(`${header}\nM1,25/10/2026,50,E,1\n`);
    expect(outcome.readings.map((r) => [r.period, iso(r.startUtcMs), r.type])).toEqual([
      [50, '2026-10-25T23:30:00Z', 'estimated'],
    ]);
  });
});

describe('Octopus rows', () => {
  const header = 'Consumption (kwh), Estimated Cost Inc. Tax (p), Standing Charge Inc. Tax (p), Start, End';

  it('reads ISO timestamps with offsets, ignoring the cost columns', () => {
    const outcome = importText(
      `${header}\n 0.5, 12.1, 1.2, 2025-10-26T01:30:00+01:00, 2025-10-26T01:00:00+00:00\n 0.25, 6, 1.2, 2025-10-26T01:00:00+00:00, 2025-10-26T01:30:00+00:00\n`,
      'hh',
      { meterCode: '1200000000001' },
    );
    expect(outcome.errors).toEqual([]);
    expect(outcome.readings).toEqual([
      expect.objectContaining({ meterCode: '1200000000001', period: 4, kwh: '0.5', type: 'actual' }),
      expect.objectContaining({ period: 5, kwh: '0.25' }),
    ]);
  });

  it('refuses a row whose End is not half an hour after its Start', () => {
    const outcome = importText(`${header}\n 0.5, 1, 1, 2025-01-01T00:00:00Z, 2025-01-01T01:00:00Z\n`, 'hh', {
      meterCode: 'E1',
    });
    expect(outcome.errors).toEqual(['Row 1: Start and End are not half an hour apart']);
  });
});

describe('LayoutError headers', () => {
  it('keeps at most 50 headers, cleaned and cut, however wide or hostile the header row', () => {
    const headers = [
      `\ufeff${'x'.repeat(5000)}`,
      'a\u0000b',
      ...Array.from({ length: 998 }, (_, i) => `c${i}`),
    ];
    const error = layoutError(() => resolveLayout('hh', headers));
    expect(error.headers).toHaveLength(50);
    expect(error.headers[0]).toBe(`${'x'.repeat(40)}…`);
    expect(error.headers[1]).toBe('a b');
    expect(error.message.length).toBeLessThan(3000);
  });
});
