import { describe, expect, it } from 'vitest';
// The record rules every reading layout shares, seen through the registry (prepareFile) on ordinary
// days; the clock-change rules have their own tests under layouts/ and time/.
import { prepareFile } from '../../../lib/imports/file-setup.js';
import { detectLayout } from '../../../lib/imports/formats.js';
import type { Reading } from '../../../lib/imports/layouts/layout.js';
import { compileSiteMapper, formatRowError, type MappedRecord } from '../../../lib/imports/rows.js';

type ReadingMapper = (fields: readonly string[]) => MappedRecord;

function compileReadingMapper(file: { mapRecord: ReadingMapper }): ReadingMapper {
  return file.mapRecord;
}

function detectReadingLayout(importType: 'hh' | 'daily', headers: readonly string[]) {
  return prepareFile(importType, headers);
}

const londonTime = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/London',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

/** A reading in the shape these tests were written for: its local date and wall-clock start. */
function localView(reading: Reading) {
  return {
    meterCode: reading.meterCode,
    readingDate: reading.settlementDate,
    readingTime: londonTime.format(reading.startUtcMs),
    periodNumber: reading.period,
    valueKwh: reading.kwh,
    readingType: reading.type,
    unit: reading.unit,
  };
}

const HH_HEADERS = Array.from({ length: 48 }, (_, i) => `HH${String(i + 1).padStart(2, '0')}`);

function intervalMapper(
  headers = ['MPAN', 'ReadDateTime', 'ReadValue', 'Unit', 'ReadingType'],
): ReadingMapper {
  return compileReadingMapper(detectReadingLayout('hh', headers));
}

function errorOf(result: MappedRecord): string | null {
  return result.kind === 'error' ? result.message : null;
}

function rowsOf(result: MappedRecord) {
  return result.kind === 'rows' ? result.rows.map(localView) : [];
}

describe('formatRowError', () => {
  it('prefixes the 1-based data row number', () => {
    expect(formatRowError(7, 'Missing MPAN')).toBe('Row 7: Missing MPAN');
  });
});

describe('interval rows', () => {
  it('maps a row of the interval fixture (hh-interval.csv)', () => {
    const result = intervalMapper()(['E06BG12862', '2024-11-09 00:30:00', '5.6', 'kWh', 'A']);
    expect(rowsOf(result)).toEqual([
      {
        meterCode: 'E06BG12862',
        readingDate: '2024-11-09',
        readingTime: '00:30:00',
        periodNumber: 2,
        valueKwh: '5.6',
        readingType: 'actual',
        unit: 'kWh',
      },
    ]);
  });

  it.each([
    ['2024-11-09 00:00:00', '00:00:00', 1],
    ['2024-11-09 00:29:59', '00:00:00', 1],
    ['2024-11-09 00:30:00', '00:30:00', 2],
    ['2024-11-09 00:44:00', '00:30:00', 2],
    ['2024-11-09 12:00', '12:00:00', 25],
    ['2024-11-09 23:30:00', '23:30:00', 48],
    ['2024-11-09 23:59:59', '23:30:00', 48],
    // The offset is read (issue 12): 07:15+01:00 is 06:15 UTC, 06:15 GMT in November.
    ['2024-11-09T07:15:00+01:00', '06:00:00', 13],
  ])('stores %j at the half-hour start %s, period %i', (timestamp, time, period) => {
    const [row] = rowsOf(intervalMapper()(['E1', timestamp, '1', '', '']));
    expect([row?.readingTime, row?.periodNumber]).toEqual([time, period]);
  });

  it('reads separate date and time columns, including Excel-mangled times', () => {
    const mapper = intervalMapper(['MPAN', 'Date', 'Time', 'kWh']);
    expect(rowsOf(mapper(['E1', '09/11/2024', '30:00.0', '1']))[0]).toMatchObject({
      readingDate: '2024-11-09',
      readingTime: '00:30:00',
      periodNumber: 2,
    });
    expect(rowsOf(mapper(['E1', '09/11/2024', '0.020833', '1']))[0]?.readingTime).toBe('00:30:00');
    expect(rowsOf(mapper(['E1', '09/11/2024', '23:30', '1']))[0]?.periodNumber).toBe(48);
  });

  it('converts Wh and MWh to kWh and records the unit seen', () => {
    const mapper = intervalMapper();
    expect(rowsOf(mapper(['E1', '2024-11-09 00:30', '5.6', 'Wh', 'A']))[0]).toMatchObject({
      valueKwh: '0.0056',
      unit: 'Wh',
    });
    expect(rowsOf(mapper(['E1', '2024-11-09 00:30', '0.0012', 'mwh', 'A']))[0]).toMatchObject({
      valueKwh: '1.2',
      unit: 'MWh',
    });
    expect(rowsOf(mapper(['E1', '2024-11-09 00:30', '2', '', 'A']))[0]?.unit).toBe('kWh');
  });

  it('reads an empty unit as Wh when the value column is named Wh', () => {
    const mapper = intervalMapper(['MPAN', 'ReadDateTime', 'Wh']);
    expect(rowsOf(mapper(['E1', '2024-11-09 00:30', '1500']))[0]).toMatchObject({
      valueKwh: '1.5',
      unit: 'Wh',
    });
  });

  it('reads E and estimated as estimated, empty as actual', () => {
    const mapper = intervalMapper();
    expect(rowsOf(mapper(['E1', '2024-11-09 00:30', '1', 'kWh', 'E']))[0]?.readingType).toBe('estimated');
    expect(rowsOf(mapper(['E1', '2024-11-09 00:30', '1', 'kWh', 'estimated']))[0]?.readingType).toBe(
      'estimated',
    );
    expect(rowsOf(mapper(['E1', '2024-11-09 00:30', '1', 'kWh', '']))[0]?.readingType).toBe('actual');
  });

  it.each([
    [['', '2024-11-09 00:30', '1', 'kWh', 'A'], 'Missing MPAN'],
    [
      ['E1', '2024-11-09 24:00', '1', 'kWh', 'A'],
      'Invalid reading timestamp: Invalid date-time "2024-11-09 24:00"',
    ],
    [
      ['E1', '31/02/2024 00:30', '1', 'kWh', 'A'],
      'Invalid reading timestamp: Invalid date-time "31/02/2024 00:30"',
    ],
    [['E1', '', '1', 'kWh', 'A'], 'Invalid reading timestamp: Invalid date-time ""'],
    [['E1', '2024-11-09 00:30', '', 'kWh', 'A'], 'Missing reading value'],
    [['E1', '2024-11-09 00:30', 'x', 'kWh', 'A'], 'Non-numeric reading value "x"'],
    [['E1', '2024-11-09 00:30', '-1', 'kWh', 'A'], 'Negative reading value "-1"'],
    [['E1', '2024-11-09 00:30', '1', 'kW', 'A'], 'Unknown unit "kW"'],
    [['E1', '2024-11-09 00:30', '1', 'kWh', 'Z'], 'Unknown reading type "Z"'],
  ])('rejects %j with %j', (fields, message) => {
    expect(errorOf(intervalMapper()(fields))).toBe(message);
  });

  it('rejects formula-injection and SQL meter codes', () => {
    const mapper = intervalMapper();
    expect(errorOf(mapper(["=cmd|' /C calc'!A0", '2024-11-09 00:30', '1', 'kWh', 'A']))).toBe(
      'Meter code "=cmd|\' /C calc\'!A0" may only hold letters, digits, spaces, "-", "_" and "/"',
    );
    expect(errorOf(mapper(["E1'); DELETE FROM meters; --", '2024-11-09 00:30', '1', 'kWh', 'A']))).toMatch(
      /^Meter code .* may only hold/,
    );
  });

  it('rejects a huge value with a bounded message', () => {
    const message = errorOf(intervalMapper()(['E1', '2024-11-09 00:30', '9'.repeat(1_000_000), 'kWh', 'A']));
    expect(message).toBe(`Out-of-range reading value "${'9'.repeat(40)}…" (must be below 100000000 kWh)`);
  });

  it('ignores extra trailing fields and reads missing trailing fields as empty', () => {
    const mapper = intervalMapper();
    expect(rowsOf(mapper(['E1', '2024-11-09 00:30', '1', 'kWh', 'A', 'extra', 'more']))).toHaveLength(1);
    expect(rowsOf(mapper(['E1', '2024-11-09 00:30', '1']))[0]).toMatchObject({
      unit: 'kWh',
      readingType: 'actual',
    });
    expect(errorOf(mapper(['E1', '2024-11-09 00:30']))).toBe('Missing reading value');
  });

  it('reports a record of empty cells as blank rather than as an error', () => {
    expect(intervalMapper()(['', ' ', '', '', ''])).toEqual({ kind: 'blank' });
    expect(intervalMapper()([''])).toEqual({ kind: 'blank' });
  });
});

describe('matrix rows', () => {
  const mapper = compileReadingMapper(detectReadingLayout('hh', ['MPAN', 'Date', ...HH_HEADERS]));

  it('turns one meter-day into 48 readings at (p − 1) × 30 minutes', () => {
    const rows = rowsOf(mapper(['E06BG12862', '09/11/2024', ...HH_HEADERS.map((_, i) => String(i + 1))]));
    expect(rows).toHaveLength(48);
    expect(rows[0]).toEqual({
      meterCode: 'E06BG12862',
      readingDate: '2024-11-09',
      readingTime: '00:00:00',
      periodNumber: 1,
      valueKwh: '1',
      readingType: 'actual',
      unit: 'kWh',
    });
    expect(rows[1]).toMatchObject({ readingTime: '00:30:00', periodNumber: 2, valueKwh: '2' });
    expect(rows[47]).toMatchObject({ readingTime: '23:30:00', periodNumber: 48, valueKwh: '48' });
  });

  it('skips empty cells', () => {
    const cells = HH_HEADERS.map(() => '');
    cells[0] = '0.25';
    cells[47] = ' 2 ';
    const rows = rowsOf(mapper(['E1', '2024-11-10', ...cells]));
    expect(rows.map((row) => [row.periodNumber, row.valueKwh])).toEqual([
      [1, '0.25'],
      [48, '2'],
    ]);
  });

  it('returns no readings for a row whose cells are all empty', () => {
    expect(mapper(['E1', '2024-11-10'])).toEqual({ kind: 'rows', rows: [] });
  });

  it('names the column of a non-numeric cell by its original header', () => {
    const cells = HH_HEADERS.map(() => '1');
    cells[6] = 'n/a';
    expect(errorOf(mapper(['E1', '09/11/2024', ...cells]))).toBe('Non-numeric value "n/a" in column HH07');
    const lowerHeaders = HH_HEADERS.map((header, i) => (i === 6 ? 'hh 7' : header));
    const lower = compileReadingMapper(detectReadingLayout('hh', ['MPAN', 'Date', ...lowerHeaders]));
    const lowerCells = HH_HEADERS.map(() => '');
    lowerCells[6] = '=1+1';
    expect(errorOf(lower(['E1', '09/11/2024', ...lowerCells]))).toBe(
      'Non-numeric value "=1+1" in column hh 7',
    );
  });

  it('rejects negative and out-of-range cells', () => {
    expect(errorOf(mapper(['E1', '09/11/2024', '-1']))).toBe('Negative value "-1" in column HH01');
    expect(errorOf(mapper(['E1', '09/11/2024', '1', '1e9']))).toBe('Out-of-range value "1e9" in column HH02');
  });

  it('rejects a bad or missing date', () => {
    expect(errorOf(mapper(['E1', '31/02/2024', '1']))).toBe('Invalid date value "31/02/2024"');
    expect(errorOf(mapper(['E1', '08/30/2024', '1']))).toBe('Invalid date value "08/30/2024"');
    expect(errorOf(mapper(['E1', '', '1']))).toBe('Missing date value');
  });

  it('applies a unit column to every cell of the row', () => {
    const withUnit = compileReadingMapper(detectReadingLayout('hh', ['MPAN', 'Date', 'Unit', ...HH_HEADERS]));
    expect(rowsOf(withUnit(['E1', '09/11/2024', 'Wh', '500', '1250'])).map((row) => row.valueKwh)).toEqual([
      '0.5',
      '1.25',
    ]);
  });
});

describe('daily rows', () => {
  const mapper = compileReadingMapper(
    detectReadingLayout('daily', ['MPAN', 'Date', 'Reading', 'Unit', 'ReadingType']),
  );

  it('stores a daily reading at 00:00:00 with no period', () => {
    expect(rowsOf(mapper(['E06BG12862', '09/11/2024', '123.45', 'kWh', 'A']))).toEqual([
      {
        meterCode: 'E06BG12862',
        readingDate: '2024-11-09',
        readingTime: '00:00:00',
        periodNumber: null,
        valueKwh: '123.45',
        readingType: 'actual',
        unit: 'kWh',
      },
    ]);
  });

  it.each([
    [['E1', '08/30/2024', '1'], 'Invalid date value "08/30/2024"'],
    [['E1', '', '1'], 'Missing date value'],
    [['E1', '09/11/2024', ''], 'Missing reading value'],
    [['E1', '09/11/2024', '1,5'], 'Non-numeric reading value "1,5"'],
    [['', '09/11/2024', '1'], 'Missing MPAN'],
  ])('rejects %j with %j', (fields, message) => {
    expect(errorOf(mapper(fields))).toBe(message);
  });
});

describe('site rows', () => {
  const mapper = compileSiteMapper(
    detectLayout('sites', [
      'name',
      'company_id',
      'region_id',
      'address',
      'postcode',
      'site_type',
      'floor_area',
      'latitude',
      'longitude',
      'is_active',
    ]),
  );

  it('maps a full site row to typed values', () => {
    expect(
      mapper([
        ' Head Office ',
        '1',
        '2',
        '1 High Street',
        'sw1a 1aa',
        'Office',
        '1250.5',
        '51.501',
        '-0.142',
        'yes',
      ]),
    ).toEqual({
      kind: 'site',
      site: {
        name: 'Head Office',
        companyId: 1,
        regionId: 2,
        address: '1 High Street',
        postcode: 'SW1A 1AA',
        siteType: 'office',
        floorAreaM2: 1250.5,
        latitude: 51.501,
        longitude: -0.142,
        isActive: true,
      },
    });
  });

  it('applies defaults to empty optional cells', () => {
    expect(mapper(['Depot'])).toEqual({
      kind: 'site',
      site: {
        name: 'Depot',
        companyId: null,
        regionId: null,
        address: null,
        postcode: null,
        siteType: 'office',
        floorAreaM2: null,
        latitude: null,
        longitude: null,
        isActive: true,
      },
    });
  });

  it.each([
    [['', '1'], 'Missing site name'],
    [['x'.repeat(256)], 'site name is longer than 255 characters'],
    [['S', 'abc'], 'Invalid company_id "abc"'],
    [['S', '', '-2'], 'Invalid region_id "-2"'],
    [['S', '', '', 'a'.repeat(501)], 'address is longer than 500 characters'],
    [['S', '', '', '', 'P'.repeat(17)], 'postcode is longer than 16 characters'],
    [['S', '', '', '', '', 'castle'], 'Unknown site type "castle"'],
    [['S', '', '', '', '', '', '-5'], 'Out-of-range floor_area "-5"'],
    [['S', '', '', '', '', '', '', '91'], 'Out-of-range latitude "91"'],
    [['S', '', '', '', '', '', '', '', '181'], 'Out-of-range longitude "181"'],
    [['S', '', '', '', '', '', '', '', '', 'maybe'], 'Invalid is_active value "maybe"'],
  ])('rejects %j with %j', (fields, message) => {
    const result = mapper(fields);
    expect(result.kind === 'error' ? result.message : null).toBe(message);
  });

  it('reports a record of empty cells as blank', () => {
    expect(mapper(['', '', ''])).toEqual({ kind: 'blank' });
  });
});
