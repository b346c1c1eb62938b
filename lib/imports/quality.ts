// Data quality of one import (summary.quality): meter-days seen, complete days, missing periods,
// readings given twice in the file (the later one wins), and estimated readings. Pure; the caller owns
// one tally per job and may snapshot it into the job's checkpoint to carry it across a resume.

import { settlementDay } from '../time/settlement-calendar.js';
import type { Reading } from './layouts/layout.js';

export type QualitySummary = {
  readonly meter_days: number;
  readonly complete_days: number;
  readonly missing_periods: number;
  readonly duplicates_in_file: number;
  readonly estimated: number;
};

/** Per meter-day: how many periods it has, and which are present / estimated (bits for 1..25, 26..50). */
type DayEntry = {
  periodCount: number;
  presentLow: number;
  presentHigh: number;
  estimatedLow: number;
  estimatedHigh: number;
};

export type QualityState = {
  readonly duplicates: number;
  readonly days: ReadonlyArray<readonly [string, number, number, number, number, number]>;
};

const HALF = 25;

function popcount(bits: number): number {
  let value = bits >>> 0;
  let count = 0;
  while (value !== 0) {
    value &= value - 1;
    count++;
  }
  return count;
}

/**
 * Counts readings as the database will hold them: a meter and instant seen twice is one reading (the
 * later), so a duplicate replaces the earlier one's estimated flag too.
 */
export class QualityTally {
  private readonly days = new Map<string, DayEntry>();
  private duplicates = 0;

  constructor(state?: QualityState) {
    if (state === undefined) return;
    this.duplicates = state.duplicates;
    for (const [key, periodCount, presentLow, presentHigh, estimatedLow, estimatedHigh] of state.days) {
      this.days.set(key, { periodCount, presentLow, presentHigh, estimatedLow, estimatedHigh });
    }
  }

  add(reading: Reading): void {
    const interval = reading.period === null ? 'd' : 'h';
    const key = `${reading.meterCode.toUpperCase()}\u0000${interval}\u0000${reading.settlementDate}`;
    let entry = this.days.get(key);
    if (entry === undefined) {
      const periodCount =
        reading.period === null ? 1 : (settlementDay(reading.settlementDate)?.periodCount ?? 48);
      entry = { periodCount, presentLow: 0, presentHigh: 0, estimatedLow: 0, estimatedHigh: 0 };
      this.days.set(key, entry);
    }
    const slot = (reading.period ?? 1) - 1;
    const isHigh = slot >= HALF;
    const bit = 1 << (isHigh ? slot - HALF : slot);
    const present = isHigh ? entry.presentHigh : entry.presentLow;
    if ((present & bit) !== 0) this.duplicates++;
    const isEstimated = reading.type === 'estimated';
    if (isHigh) {
      entry.presentHigh |= bit;
      entry.estimatedHigh = isEstimated ? entry.estimatedHigh | bit : entry.estimatedHigh & ~bit;
    } else {
      entry.presentLow |= bit;
      entry.estimatedLow = isEstimated ? entry.estimatedLow | bit : entry.estimatedLow & ~bit;
    }
  }

  summary(): QualitySummary {
    let completeDays = 0;
    let missingPeriods = 0;
    let estimated = 0;
    for (const entry of this.days.values()) {
      const present = popcount(entry.presentLow) + popcount(entry.presentHigh);
      if (present === entry.periodCount) completeDays++;
      missingPeriods += Math.max(0, entry.periodCount - present);
      estimated += popcount(entry.estimatedLow) + popcount(entry.estimatedHigh);
    }
    return {
      meter_days: this.days.size,
      complete_days: completeDays,
      missing_periods: missingPeriods,
      duplicates_in_file: this.duplicates,
      estimated,
    };
  }

  snapshot(): QualityState {
    return {
      duplicates: this.duplicates,
      days: [...this.days.entries()].map(([key, e]) => [
        key,
        e.periodCount,
        e.presentLow,
        e.presentHigh,
        e.estimatedLow,
        e.estimatedHigh,
      ]),
    };
  }
}
