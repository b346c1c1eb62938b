import { describe, expect, it } from 'vitest';
import { emptyTally, ImportProgress, MAX_KEPT_ROW_ERRORS } from '../../../lib/imports/import-progress.js';
import type { Reading } from '../../../lib/imports/layouts/layout.js';

const READING: Reading = {
  meterCode: 'E1',
  settlementDate: '2024-01-01',
  period: null,
  startUtcMs: Date.UTC(2024, 0, 1),
  kwh: '1',
  type: 'actual',
  unit: 'Wh',
};

describe('ImportProgress', () => {
  it('counts rows, sites and errors as processed, and blank records not at all', () => {
    const progress = new ImportProgress(null);
    progress.countRecord(1, { kind: 'rows', rows: [READING, READING] });
    progress.countRecord(2, { kind: 'blank' });
    progress.countRecord(3, { kind: 'error', message: 'Missing MPAN' });
    progress.countRecord(4, {
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
    expect(progress.rowsSoFar()).toEqual({
      processed: 3,
      imported: 2,
      failed: 1,
      errors: ['Row 3: Missing MPAN'],
      unitCounts: { Wh: 2 },
      // The same daily reading twice: one meter-day, complete, the second a duplicate.
      quality: { duplicates: 1, meters: [['E1\u0000d', `${(19_723).toString(36)}+1`]] },
      ambiguousTimes: [],
    });
  });

  it('reports only what a checkpoint committed, never rows counted since', () => {
    const progress = new ImportProgress(null);
    progress.countRecord(1, { kind: 'rows', rows: [READING] });
    const checkpoint = { ...emptyTally(), ...progress.rowsSoFar(), readingsWritten: 1 };
    progress.countRecord(2, { kind: 'rows', rows: [READING] });
    expect(progress.committed.processed).toBe(0);
    progress.markCommitted(checkpoint);
    progress.countRecord(3, { kind: 'error', message: 'bad' });
    expect(progress.committed).toMatchObject({ processed: 1, imported: 1, failed: 0, readingsWritten: 1 });
    expect(progress.rowsSoFar()).toMatchObject({ processed: 3, imported: 2, failed: 1 });
  });

  it('continues a resumed job from its saved tally without changing the job it was claimed with', () => {
    const saved = { ...emptyTally(), processed: 10, imported: 9, failed: 1, errors: ['Row 4: bad'] };
    const progress = new ImportProgress(saved);
    progress.countRecord(11, { kind: 'error', message: 'worse' });
    expect(progress.committed).toMatchObject({ processed: 10, errors: ['Row 4: bad'] });
    expect(progress.rowsSoFar()).toMatchObject({
      processed: 11,
      failed: 2,
      errors: ['Row 4: bad', 'Row 11: worse'],
    });
    expect(saved).toMatchObject({ processed: 10, errors: ['Row 4: bad'] });
  });

  it('hands out copies, so a checkpoint in flight is not changed by rows counted after it', () => {
    const progress = new ImportProgress(null);
    progress.countRecord(1, { kind: 'error', message: 'first' });
    const snapshot = progress.rowsSoFar();
    progress.countRecord(2, { kind: 'rows', rows: [READING] });
    expect(snapshot).toEqual({
      processed: 1,
      imported: 0,
      failed: 1,
      errors: ['Row 1: first'],
      unitCounts: {},
      quality: { duplicates: 0, meters: [] },
      ambiguousTimes: [],
    });
  });

  it('carries the quality tally and the autumn-hour tracker across a resume', () => {
    const first = new ImportProgress(null);
    const autumnHour = {
      kind: 'ambiguous',
      bstUtcMs: Date.UTC(2025, 9, 26, 0),
      gmtUtcMs: Date.UTC(2025, 9, 26, 1),
      local: '2025-10-26 01:00',
    } as const;
    expect(first.tracker.resolve('E1', autumnHour)).toEqual({ ok: true, utcMs: autumnHour.bstUtcMs });
    first.countRecord(1, { kind: 'rows', rows: [READING] });
    const resumed = new ImportProgress({ ...emptyTally(), ...first.rowsSoFar() });
    expect(resumed.tracker.resolve('E1', autumnHour)).toEqual({ ok: true, utcMs: autumnHour.gmtUtcMs });
    resumed.countRecord(2, { kind: 'rows', rows: [READING] });
    expect(resumed.rowsSoFar().quality.duplicates).toBe(1);
  });

  it(`keeps the first ${MAX_KEPT_ROW_ERRORS} row errors and counts every failed row`, () => {
    const progress = new ImportProgress(null);
    for (let row = 1; row <= MAX_KEPT_ROW_ERRORS + 5; row++)
      progress.countRecord(row, { kind: 'error', message: 'x' });
    expect(progress.rowsSoFar().failed).toBe(MAX_KEPT_ROW_ERRORS + 5);
    expect(progress.rowsSoFar().errors).toHaveLength(MAX_KEPT_ROW_ERRORS);
  });
});
