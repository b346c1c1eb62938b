// Data quality of one import (summary.quality): meter-days seen, complete days, missing periods,
// readings given twice in the file (the later one wins), and estimated readings. Pure; the caller owns
// one tally per job and snapshots it into the job's checkpoint to carry it across a resume.

import { settlementDay, settlementDayByNumber } from '../time/settlement-calendar.js';
import type { Reading } from './layouts/layout.js';

export type QualitySummary = {
  readonly meter_days: number;
  readonly complete_days: number;
  readonly missing_periods: number;
  readonly duplicates_in_file: number;
  readonly estimated: number;
  /**
   * Only when a run resumed a job whose tally had outgrown its checkpoint (MAX_SNAPSHOT_TOKENS): the
   * figures then cover the rows the last run read, not the whole file.
   */
  readonly partial?: true;
};

/**
 * The most day tokens a checkpoint carries (about 1 MB). A file of whole, clean days never comes
 * near it (a meter's run of complete days is one token); past it the checkpoint drops the days and
 * a resumed run says its quality is partial rather than store megabytes with every batch.
 */
export const MAX_SNAPSHOT_TOKENS = 50_000;

/** Per meter-day: how many periods it has, and which are present / estimated (bits for 1..25, 26..50). */
type DayEntry = {
  periodCount: number;
  presentLow: number;
  presentHigh: number;
  estimatedLow: number;
  estimatedHigh: number;
};

/**
 * The tally as the checkpoint stores it. `meters`: per meter and interval (`CODE\u0000h|d`), its days
 * as comma-separated base-36 tokens: `day+n` is n complete days without an estimate from day number
 * `day` on (the usual case, so a year of a clean meter is one token), `day:count:pl:ph:el:eh` any
 * other day. A checkpoint of 1M readings (about 21,000 meter-days) stays a few hundred bytes.
 */
export type QualityState = {
  readonly duplicates: number;
  readonly meters: ReadonlyArray<readonly [string, string]>;
  /** The days were dropped (MAX_SNAPSHOT_TOKENS), or were already missing when this run resumed. */
  readonly partial?: true;
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

function lowMask(periodCount: number): number {
  return periodCount >= HALF ? 2 ** HALF - 1 : 2 ** periodCount - 1;
}

function highMask(periodCount: number): number {
  return periodCount > HALF ? 2 ** (periodCount - HALF) - 1 : 0;
}

function isCleanComplete(entry: DayEntry): boolean {
  return (
    entry.estimatedLow === 0 &&
    entry.estimatedHigh === 0 &&
    entry.presentLow === lowMask(entry.periodCount) &&
    entry.presentHigh === highMask(entry.periodCount)
  );
}

function cleanDay(periodCount: number): DayEntry {
  return {
    periodCount,
    presentLow: lowMask(periodCount),
    presentHigh: highMask(periodCount),
    estimatedLow: 0,
    estimatedHigh: 0,
  };
}

/**
 * Counts readings as the database will hold them: a meter and instant seen twice is one reading (the
 * later), so a duplicate replaces the earlier one's estimated flag too.
 */
export class QualityTally {
  /** Meter (upper-cased) and interval → day number → entry. */
  private readonly meters = new Map<string, Map<number, DayEntry>>();
  private duplicates = 0;
  private partial = false;
  /** Each meter's tokens as of the last snapshot, and the meters changed since (recomputed only). */
  private readonly tokensByMeter = new Map<string, { text: string; count: number }>();
  private readonly dirty = new Set<string>();
  // Readings of one meter-day come together: the last entry found answers most lookups.
  private lastMeterCode = '';
  private lastInterval = '';
  private lastDate = '';
  private lastEntry: DayEntry | undefined;

  constructor(state?: QualityState) {
    if (state === undefined) return;
    this.duplicates = state.duplicates;
    this.partial = state.partial === true;
    for (const [key, tokens] of state.meters) {
      this.meters.set(key, restoreDays(key, tokens));
      this.dirty.add(key);
    }
  }

  add(reading: Reading): void {
    const interval = reading.period === null ? 'd' : 'h';
    let entry = this.lastEntry;
    if (
      entry === undefined ||
      reading.settlementDate !== this.lastDate ||
      reading.meterCode !== this.lastMeterCode ||
      interval !== this.lastInterval
    ) {
      entry = this.entryFor(reading, interval);
      this.lastEntry = entry;
      this.lastDate = reading.settlementDate;
      this.lastMeterCode = reading.meterCode;
      this.lastInterval = interval;
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

  private entryFor(reading: Reading, interval: string): DayEntry {
    const key = `${reading.meterCode.toUpperCase()}\u0000${interval}`;
    this.dirty.add(key);
    let days = this.meters.get(key);
    if (days === undefined) {
      days = new Map();
      this.meters.set(key, days);
    }
    // Layouts only emit readings on settlement days the calendar knows.
    const day = settlementDay(reading.settlementDate);
    if (day === null) throw new RangeError(`Not a settlement date: ${reading.settlementDate}`);
    let entry = days.get(day.dayNumber);
    if (entry === undefined) {
      const periodCount = reading.period === null ? 1 : day.periodCount;
      entry = { periodCount, presentLow: 0, presentHigh: 0, estimatedLow: 0, estimatedHigh: 0 };
      days.set(day.dayNumber, entry);
    }
    return entry;
  }

  summary(): QualitySummary {
    let meterDays = 0;
    let completeDays = 0;
    let missingPeriods = 0;
    let estimated = 0;
    for (const days of this.meters.values()) {
      meterDays += days.size;
      for (const entry of days.values()) {
        const present = popcount(entry.presentLow) + popcount(entry.presentHigh);
        if (present === entry.periodCount) completeDays++;
        missingPeriods += Math.max(0, entry.periodCount - present);
        estimated += popcount(entry.estimatedLow) + popcount(entry.estimatedHigh);
      }
    }
    return {
      meter_days: meterDays,
      complete_days: completeDays,
      missing_periods: missingPeriods,
      duplicates_in_file: this.duplicates,
      estimated,
      ...(this.partial ? { partial: true as const } : {}),
    };
  }

  /** The state for a checkpoint; only meters read since the last snapshot are encoded again. */
  snapshot(): QualityState {
    // The next reading goes through entryFor again, so its meter is marked changed.
    this.lastEntry = undefined;
    for (const key of this.dirty) {
      const days = this.meters.get(key);
      if (days !== undefined) this.tokensByMeter.set(key, encodeDays(days));
    }
    this.dirty.clear();
    let tokenCount = 0;
    for (const tokens of this.tokensByMeter.values()) tokenCount += tokens.count;
    if (tokenCount > MAX_SNAPSHOT_TOKENS) return { duplicates: this.duplicates, meters: [], partial: true };
    const meters: Array<readonly [string, string]> = [];
    for (const [key, tokens] of this.tokensByMeter) meters.push([key, tokens.text]);
    return { duplicates: this.duplicates, meters, ...(this.partial ? { partial: true as const } : {}) };
  }
}

/** A meter's days as tokens (see QualityState), in the order they were first seen. */
function encodeDays(days: ReadonlyMap<number, DayEntry>): { text: string; count: number } {
  const tokens: string[] = [];
  let runStart = 0;
  let runLength = 0;
  const endRun = () => {
    if (runLength > 0) tokens.push(`${runStart.toString(36)}+${runLength.toString(36)}`);
    runLength = 0;
  };
  for (const [dayNumber, entry] of days) {
    if (isCleanComplete(entry)) {
      if (runLength > 0 && dayNumber === runStart + runLength) {
        runLength++;
        continue;
      }
      endRun();
      runStart = dayNumber;
      runLength = 1;
      continue;
    }
    endRun();
    tokens.push(
      [
        dayNumber,
        entry.periodCount,
        entry.presentLow,
        entry.presentHigh,
        entry.estimatedLow,
        entry.estimatedHigh,
      ]
        .map((value) => value.toString(36))
        .join(':'),
    );
  }
  endRun();
  return { text: tokens.join(','), count: tokens.length };
}

function restoreDays(key: string, tokens: string): Map<number, DayEntry> {
  const isDaily = key.endsWith('\u0000d');
  const days = new Map<number, DayEntry>();
  if (tokens === '') return days;
  for (const token of tokens.split(',')) {
    const run = token.split('+');
    if (run.length === 2) {
      const start = Number.parseInt(run[0] ?? '', 36);
      const length = Number.parseInt(run[1] ?? '', 36);
      for (let dayNumber = start; dayNumber < start + length; dayNumber++) {
        const periodCount = isDaily ? 1 : (settlementDayByNumber(dayNumber)?.periodCount ?? 48);
        days.set(dayNumber, cleanDay(periodCount));
      }
      continue;
    }
    const [
      dayNumber = 0,
      periodCount = 48,
      presentLow = 0,
      presentHigh = 0,
      estimatedLow = 0,
      estimatedHigh = 0,
    ] = token.split(':').map((part) => Number.parseInt(part, 36));
    days.set(dayNumber, { periodCount, presentLow, presentHigh, estimatedLow, estimatedHigh });
  }
  return days;
}
