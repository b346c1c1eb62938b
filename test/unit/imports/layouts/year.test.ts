import { describe, expect, it } from 'vitest';
import { QualityTally } from '../../../../lib/imports/quality.js';
import {
  datesOfYear,
  HALF_HOURLY_LAYOUTS,
  halfHoursOf,
  writeLayoutFile,
} from '../../../helpers/layout-files.js';
import { importText } from './import-text.js';

const FLAGGED = new Set([
  'hh-matrix-flags',
  'hh-time-flags',
  'hh-time-end-flags',
  'hh-interval',
  'hh-settlement',
]);

describe('a year of one meter in every half-hourly layout', () => {
  const halfHours = halfHoursOf(datesOfYear(2025));
  const expectedStarts = halfHours.map((h) => h.startUtcMs);

  it('has 17,520 half-hours in 2025 (365 days, 46 + 50 balance)', () => {
    expect(halfHours).toHaveLength(17_520);
  });

  it.each(HALF_HOURLY_LAYOUTS)('%s maps to exactly those 17,520 readings', (layout) => {
    const text = writeLayoutFile(layout, halfHours, { meter: 'E1' });
    const outcome = importText(text, 'hh', layout === 'hh-octopus' ? { meterCode: 'E1' } : {});
    expect(outcome.errors).toEqual([]);
    const starts = outcome.readings.map((r) => r.startUtcMs).sort((a, b) => a - b);
    expect(starts).toEqual(expectedStarts);
    expect(outcome.readings.map((r) => r.kwh).sort()).toEqual(halfHours.map((h) => h.kwh).sort());
    const tally = new QualityTally();
    for (const reading of outcome.readings) tally.add(reading);
    expect(tally.summary()).toEqual({
      meter_days: 365,
      complete_days: 365,
      missing_periods: 0,
      duplicates_in_file: 0,
      // Layouts without a flag read every value as actual.
      estimated: FLAGGED.has(layout) ? halfHours.filter((h) => h.type === 'estimated').length : 0,
    });
  });

  it('counts a year of readings given twice as 17,520 duplicates', () => {
    const once = importText(writeLayoutFile('hh-settlement', halfHours, { meter: 'E1' })).readings;
    const tally = new QualityTally();
    for (const reading of [...once, ...once]) tally.add(reading);
    expect(tally.summary()).toMatchObject({
      meter_days: 365,
      complete_days: 365,
      duplicates_in_file: 17_520,
    });
  });
});
