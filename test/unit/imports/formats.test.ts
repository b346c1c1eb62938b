import { describe, expect, it } from 'vitest';
import { CsvFormatError } from '../../../lib/imports/csv-reader.js';
import type { ImportLayout, ImportType } from '../../../lib/imports/formats.js';
import {
  describeHeaders,
  detectLayout,
  detectLayoutFromHead,
  FileFormatError,
  findPeriodColumns,
  isFileFormatError,
  normaliseHeader,
  READING_HEADER_ALIASES,
} from '../../../lib/imports/formats.js';

const HH_HEADERS = Array.from({ length: 48 }, (_, i) => `HH${String(i + 1).padStart(2, '0')}`);

function formatError(importType: ImportType, headers: readonly string[]): FileFormatError {
  try {
    detectLayout(importType, headers);
  } catch (error) {
    if (error instanceof FileFormatError) return error;
    throw error;
  }
  throw new Error('expected a FileFormatError');
}

function columnsOf(layout: ImportLayout): unknown {
  return layout.columns;
}

describe('normaliseHeader', () => {
  it.each([
    ['MPAN', 'mpan'],
    ['\ufeffMPAN', 'mpan'],
    ['  Read Date  ', 'readdate'],
    ['Reading_Type', 'readingtype'],
    ['A/E', 'ae'],
    ['Meter-Serial No.', 'meterserialno'],
    ['HH 01', 'hh01'],
    ['Kelvin\u212a', 'kelvin'],
  ])('normalises %j to %j', (header, expected) => {
    expect(normaliseHeader(header)).toBe(expected);
  });
});

describe('header aliases', () => {
  const cases = Object.entries(READING_HEADER_ALIASES).flatMap(([field, aliases]) =>
    aliases.map((alias) => [field, alias] as const),
  );

  it.each(cases.filter(([field]) => field === 'meter'))('recognises %s alias %j', (_, alias) => {
    const layout = detectLayout('daily', [alias.toUpperCase(), 'Date', 'Reading']);
    expect(layout.columnMapping.meter).toBe(alias.toUpperCase());
  });

  it.each(cases.filter(([field]) => field === 'date'))('recognises %s alias %j', (_, alias) => {
    const layout = detectLayout('daily', ['MPAN', alias, 'Reading']);
    expect(layout.columnMapping.date).toBe(alias);
  });

  it.each(cases.filter(([field]) => field === 'value'))('recognises %s alias %j', (_, alias) => {
    const layout = detectLayout('daily', ['MPAN', 'Date', alias]);
    expect(layout.columnMapping.value).toBe(alias);
  });

  it.each(cases.filter(([field]) => field === 'unit'))('recognises %s alias %j', (_, alias) => {
    const layout = detectLayout('daily', ['MPAN', 'Date', 'Reading', alias]);
    expect(layout.columnMapping.unit).toBe(alias);
  });

  it.each(cases.filter(([field]) => field === 'readingType'))('recognises %s alias %j', (_, alias) => {
    const layout = detectLayout('daily', ['MPAN', 'Date', 'Reading', alias]);
    expect(layout.columnMapping.reading_type).toBe(alias);
  });

  it.each(cases.filter(([field]) => field === 'datetime'))('recognises %s alias %j', (_, alias) => {
    const layout = detectLayout('hh', ['MPAN', alias, 'Reading']);
    expect(layout.format).toBe('hh-interval');
    expect(layout.columnMapping.datetime).toBe(alias);
  });

  it.each(cases.filter(([field]) => field === 'time'))('recognises %s alias %j', (_, alias) => {
    const layout = detectLayout('hh', ['MPAN', 'Date', alias, 'Reading']);
    expect(layout.columnMapping.time).toBe(alias);
  });

  it('matches whole normalised names only', () => {
    expect(() => detectLayout('daily', ['MPAN Number', 'Date', 'Reading'])).toThrow(FileFormatError);
  });

  it('lets the first matching header in file order win', () => {
    const layout = detectLayout('daily', ['Serial', 'MPAN', 'Usage', 'Read Date', 'Date', 'Reading']);
    expect(columnsOf(layout)).toEqual({ meter: 0, unit: null, readingType: null, date: 3, value: 2 });
    expect(layout.columnMapping).toEqual({ meter: 'Serial', date: 'Read Date', value: 'Usage' });
  });
});

describe('detectLayout for hh', () => {
  it('chooses the interval format for the interval fixture’s header', () => {
    const layout = detectLayout('hh', ['MPAN', 'ReadDateTime', 'ReadValue', 'Unit', 'ReadingType']);
    expect(layout).toEqual({
      format: 'hh-interval',
      columns: { meter: 0, unit: 3, readingType: 4, value: 2, timestamp: { kind: 'datetime', datetime: 1 } },
      defaultUnit: 'kWh',
      columnMapping: {
        meter: 'MPAN',
        datetime: 'ReadDateTime',
        value: 'ReadValue',
        unit: 'Unit',
        reading_type: 'ReadingType',
      },
    });
  });

  it('chooses the interval format for separate date and time columns', () => {
    const layout = detectLayout('hh', ['Meter', 'Read Date', 'Read Time', 'kWh']);
    expect(layout.format === 'hh-interval' ? layout.columns.timestamp : null).toEqual({
      kind: 'date-and-time',
      date: 1,
      time: 2,
    });
  });

  it('prefers the interval format when HH columns are present as well', () => {
    expect(detectLayout('hh', ['MPAN', 'Timestamp', 'Value', 'HH01']).format).toBe('hh-interval');
  });

  it('chooses the matrix format for MPAN,Date,HH01..HH48', () => {
    const layout = detectLayout('hh', ['MPAN', 'Date', ...HH_HEADERS]);
    expect(layout.format).toBe('hh-matrix');
    if (layout.format !== 'hh-matrix') return;
    expect(layout.periodColumns).toHaveLength(48);
    expect(layout.periodColumns[0]).toEqual({ index: 2, period: 1, header: 'HH01' });
    expect(layout.periodColumns[47]).toEqual({ index: 49, period: 48, header: 'HH48' });
    expect(layout.columnMapping).toEqual({ meter: 'MPAN', date: 'Date', periods: 'HH01..HH48 (48 columns)' });
  });

  it('chooses the matrix format with only some HH columns', () => {
    const layout = detectLayout('hh', ['MPAN', 'Date', 'HH 03', 'hh4']);
    expect(layout.format === 'hh-matrix' ? layout.periodColumns.map((c) => c.period) : null).toEqual([3, 4]);
  });

  it('uses a value header named Wh as the unit of empty unit cells', () => {
    expect(detectLayout('hh', ['MPAN', 'ReadDateTime', 'Wh']).defaultUnit).toBe('Wh');
    expect(detectLayout('hh', ['MPAN', 'ReadDateTime', 'kWh']).defaultUnit).toBe('kWh');
  });

  it('fails without a meter column, listing the headers it saw', () => {
    const error = formatError('hh', ['Date', 'HH01', 'HH02']);
    expect(error.code).toBe('missing-meter-column');
    expect(error.message).toBe(
      'CSV must include a column containing the meter identifier (e.g. MPAN or MeterCode). Headers detected: Date, HH01, HH02',
    );
  });

  it('fails when HH columns have no date column', () => {
    const error = formatError('hh', ['MPAN', ...HH_HEADERS]);
    expect(error.code).toBe('missing-date-column');
    expect(error.message).toMatch(
      /^CSV must include a date column \(e\.g\. Date\) next to HH01\.\.HH48\. Headers/,
    );
  });

  it('fails when there are neither HH columns nor an interval timestamp and value', () => {
    const error = formatError('hh', ['MPAN', 'Date', 'Reading']);
    expect(error.code).toBe('missing-hh-columns');
    expect(error.message).toContain('Headers detected: MPAN, Date, Reading');
  });

  it('fails without any date column', () => {
    expect(formatError('hh', ['MPAN', 'Reading']).code).toBe('missing-date-column');
  });

  it('fails when an interval file has no value column', () => {
    expect(formatError('hh', ['MPAN', 'ReadDateTime', 'Unit']).code).toBe('missing-value-column');
  });

  it('ignores HH columns outside 1..48 and keeps the first of duplicates', () => {
    const periods = findPeriodColumns(['HH00', 'HH49', 'HH1', 'HH01', 'HH100', 'HH48']);
    expect(periods).toEqual([
      { index: 2, period: 1, header: 'HH1' },
      { index: 5, period: 48, header: 'HH48' },
    ]);
  });
});

describe('detectLayout for daily', () => {
  it('reads MPAN,Date,Reading,Unit,ReadingType', () => {
    const layout = detectLayout('daily', ['MPAN', 'Date', 'Reading', 'Unit', 'ReadingType']);
    expect(layout).toEqual({
      format: 'daily',
      columns: { meter: 0, date: 1, value: 2, unit: 3, readingType: 4 },
      defaultUnit: 'kWh',
      columnMapping: {
        meter: 'MPAN',
        date: 'Date',
        value: 'Reading',
        unit: 'Unit',
        reading_type: 'ReadingType',
      },
    });
  });

  it('falls back to a date-time column for the date', () => {
    expect(columnsOf(detectLayout('daily', ['MPAN', 'ReadDateTime', 'Reading']))).toMatchObject({ date: 1 });
  });

  it('fails without a date column', () => {
    expect(formatError('daily', ['MPAN', 'Reading']).code).toBe('missing-date-column');
  });

  it('fails without a value column', () => {
    const error = formatError('daily', ['MPAN', 'Date']);
    expect(error.code).toBe('missing-value-column');
    expect(error.message).toBe(
      'CSV must include a reading value column (e.g. Reading, ReadValue or kWh). Headers detected: MPAN, Date',
    );
  });
});

describe('detectLayout for sites', () => {
  it('maps every site column', () => {
    const headers = [
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
    ];
    const layout = detectLayout('sites', headers);
    expect(layout.columns).toEqual({
      name: 0,
      companyId: 1,
      regionId: 2,
      address: 3,
      postcode: 4,
      siteType: 5,
      floorArea: 6,
      latitude: 7,
      longitude: 8,
      isActive: 9,
    });
    expect(Object.keys(layout.columnMapping)).toHaveLength(10);
  });

  it('accepts site_name for the name and leaves missing optional columns unmapped', () => {
    const layout = detectLayout('sites', ['Site Name', 'Postcode']);
    expect(layout.columns).toMatchObject({ name: 0, postcode: 1, address: null, isActive: null });
  });

  it('fails without a name column', () => {
    const error = formatError('sites', ['address', 'postcode']);
    expect(error.code).toBe('missing-name-column');
    expect(error.message).toBe(
      'CSV must include a site name column (name or site_name). Headers detected: address, postcode',
    );
  });
});

describe('file-level errors', () => {
  it('fails an empty header row', () => {
    const error = formatError('hh', ['', ' ']);
    expect(error.code).toBe('no-header');
    expect(error.message).toBe('CSV file is empty or has no header row');
  });

  it('bounds the message when a header is 1 MB long', () => {
    const error = formatError('hh', [`${'x'.repeat(1_048_576)}`, 'Date']);
    expect(error.message.length).toBeLessThan(300);
    expect(error.message).toContain(`Headers detected: ${'x'.repeat(40)}…, Date`);
  });

  it('bounds the message when there are thousands of headers', () => {
    const headers = Array.from({ length: 10_000 }, (_, i) => `Column ${i}`);
    const error = formatError('daily', headers);
    expect(error.message.length).toBeLessThan(1000);
    expect(error.message).toMatch(/Column 29, … \(9970 more\)$/);
  });

  it('strips control characters from echoed headers', () => {
    expect(describeHeaders(['a\r\nb', '\ufeffMPAN'])).toBe('a  b, MPAN');
  });

  it('classes reader and header errors as file-level and others not', () => {
    expect(isFileFormatError(new FileFormatError('no-header', 'x'))).toBe(true);
    expect(isFileFormatError(new CsvFormatError('invalid-utf8', 'x', 1))).toBe(true);
    expect(isFileFormatError(new Error('x'))).toBe(false);
  });
});

describe('detectLayoutFromHead', () => {
  it('detects the layout from the first lines of an upload', () => {
    const head =
      'MPAN,ReadDateTime,ReadValue,Unit,ReadingType\nE06BG12862,2024-11-09 00:30:00,5.6,kWh,A\nE06';
    expect(detectLayoutFromHead('hh', head, { isTruncated: true }).format).toBe('hh-interval');
  });

  it('detects the layout from bytes with a BOM and semicolons', () => {
    const head = new TextEncoder().encode('\ufeffMeter Serial;Read Date;kWh\r\n');
    expect(detectLayoutFromHead('daily', head, { isTruncated: true }).columnMapping).toEqual({
      meter: 'Meter Serial',
      date: 'Read Date',
      value: 'kWh',
    });
  });

  it('accepts a whole one-line file without a line break', () => {
    expect(detectLayoutFromHead('sites', 'name', { isTruncated: false }).format).toBe('sites');
  });

  it('rejects an empty file', () => {
    expect(() => detectLayoutFromHead('hh', '', { isTruncated: false })).toThrow(
      'CSV file is empty or has no header row',
    );
  });

  it('rejects a head whose header line never ends', () => {
    expect(() => detectLayoutFromHead('hh', 'MPAN,Date,HH01', { isTruncated: true })).toThrow(
      FileFormatError,
    );
  });

  it('rejects a file with the wrong delimiter for its columns', () => {
    const error = (() => {
      try {
        detectLayoutFromHead('hh', 'MPAN:Date:HH01:HH02\n', { isTruncated: true });
      } catch (caught) {
        return caught;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(FileFormatError);
    expect(error instanceof FileFormatError ? error.code : null).toBe('missing-meter-column');
  });

  it('rejects invalid UTF-8 with a reader error', () => {
    expect(() =>
      detectLayoutFromHead('hh', new Uint8Array([0x4d, 0xff, 0x0a]), { isTruncated: true }),
    ).toThrow(CsvFormatError);
  });
});
