import { describe, expect, it } from 'vitest';
import {
  datesOfYear,
  HALF_HOURLY_LAYOUTS,
  halfHoursOf,
  writeLayoutFile,
} from '../../../helpers/layout-files.js';
import { importText } from './import-text.js';

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
  });
});
