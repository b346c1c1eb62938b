import { createReadStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readCsvRecords } from '../../../lib/imports/csv-reader.js';
import { prepareFile } from '../../../lib/imports/file-setup.js';
import type { ImportType } from '../../../lib/imports/job.js';
import type { Reading } from '../../../lib/imports/layouts/layout.js';
import { formatRowError, type SiteRow } from '../../../lib/imports/rows.js';

function fixture(name: string): string {
  return fileURLToPath(new URL(`../../fixtures/imports/${name}`, import.meta.url));
}

type Outcome = { format: string; rows: Reading[]; sites: SiteRow[]; errors: string[]; blank: number };

const londonTime = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/London',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

/** The reading's Europe/London wall-clock start, from the platform's tz database. */
function localTime(row: Reading): string {
  return londonTime.format(row.startUtcMs);
}

/** The pure part of an import: stream → header → layout (the registry) → typed rows and `Row N:` errors. */
async function importFixture(name: string, importType: ImportType): Promise<Outcome> {
  const outcome: Outcome = { format: '', rows: [], sites: [], errors: [], blank: 0 };
  let mapRecord: ((fields: string[], rowNumber: number) => void) | null = null;
  let rowNumber = 0;
  // Tiny chunks so every fixture also crosses chunk boundaries.
  for await (const record of readCsvRecords(createReadStream(fixture(name), { highWaterMark: 7 }))) {
    if (mapRecord === null) {
      const file = prepareFile(importType, record.fields);
      outcome.format = file.layoutName;
      mapRecord = (fields, n) => {
        const result = file.mapRecord(fields);
        if (result.kind === 'site') outcome.sites.push(result.site);
        else if (result.kind === 'rows') outcome.rows.push(...result.rows);
        else if (result.kind === 'error') outcome.errors.push(formatRowError(n, result.message));
        else outcome.blank++;
      };
      continue;
    }
    rowNumber++;
    mapRecord(record.fields, rowNumber);
  }
  return outcome;
}

describe('fixture files in the shapes suppliers send', () => {
  it('imports the interval sample', async () => {
    const outcome = await importFixture('hh-interval.csv', 'hh');
    expect(outcome.format).toBe('hh-interval');
    expect(
      outcome.rows.map((row) => [
        row.meterCode,
        row.settlementDate,
        localTime(row),
        row.period,
        row.kwh,
        row.type,
      ]),
    ).toEqual([
      ['E06BG12862', '2024-11-09', '00:00:00', 1, '4.2', 'actual'],
      ['E06BG12862', '2024-11-09', '00:30:00', 2, '5.6', 'actual'],
      ['E06BG12862', '2024-11-09', '01:00:00', 3, '5.6', 'estimated'],
      ['M12345678', '2024-11-09', '23:30:00', 48, '1.2', 'actual'],
    ]);
    expect(outcome.errors).toEqual(['Row 4: Missing reading value']);
  });

  it('imports the matrix sample', async () => {
    const outcome = await importFixture('hh-matrix.csv', 'hh');
    expect(outcome.format).toBe('hh-matrix');
    expect(outcome.rows).toHaveLength(48 + 3);
    expect(
      outcome.rows
        .filter((row) => row.settlementDate === '2024-11-10')
        .map((row) => [localTime(row), row.kwh]),
    ).toEqual([
      ['00:00:00', '0.25'],
      ['00:30:00', '0.5'],
      ['23:30:00', '2'],
    ]);
    expect(outcome.errors).toEqual([
      'Row 3: Non-numeric value "n/a" in column HH07',
      'Row 4: Invalid date value "31/02/2024"',
    ]);
  });

  it('imports the daily sample', async () => {
    const outcome = await importFixture('daily.csv', 'daily');
    expect(outcome.format).toBe('daily');
    expect(
      outcome.rows.map((row) => [
        row.meterCode,
        row.settlementDate,
        localTime(row),
        row.period,
        row.kwh,
        row.unit,
      ]),
    ).toEqual([
      ['E06BG12862', '2024-11-09', '00:00:00', null, '123.45', 'kWh'],
      ['E06BG12862', '2024-11-10', '00:00:00', null, '120', 'kWh'],
      ['M12345678', '2024-11-11', '00:00:00', null, '1500', 'MWh'],
    ]);
    expect(outcome.errors).toEqual(['Row 4: Invalid date value "08/30/2024"', 'Row 5: Missing MPAN']);
  });

  it('imports a UK Excel export with a BOM, semicolons, CRLF and quotes', async () => {
    const outcome = await importFixture('daily-excel-semicolon.csv', 'daily');
    expect(outcome.rows.map((row) => [row.meterCode, row.settlementDate, row.kwh])).toEqual([
      ['E06BG12862', '2024-11-09', '12.5'],
      ['E06BG12862', '2024-11-10', '13.75'],
    ]);
    expect(outcome.errors).toEqual([]);
  });

  it('imports the sites sample, including a quoted multi-line address', async () => {
    const outcome = await importFixture('sites.csv', 'sites');
    expect(outcome.format).toBe('sites');
    expect(
      outcome.sites.map((site) => [site.name, site.address, site.postcode, site.siteType, site.isActive]),
    ).toEqual([
      ['Head Office', '1 High Street, London', 'SW1A 1AA', 'office', true],
      ['Leeds Warehouse', 'Unit 4\nLeeds Trading Estate', 'LS11 5AT', 'warehouse', true],
      ['Closed Shop', null, null, 'retail', false],
    ]);
    expect(outcome.errors).toEqual(['Row 4: Unknown site type "spaceship"']);
  });

  it('rejects the matrix sample imported as daily, naming what is missing', async () => {
    await expect(importFixture('hh-matrix.csv', 'daily')).rejects.toThrow(
      /^CSV must include a reading value column \(e\.g\. Reading, ReadValue or kWh\)\. Headers detected: MPAN, Date, HH01/,
    );
  });
});
