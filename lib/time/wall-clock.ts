// Europe/London wall-clock times to UTC instants: the unique case, the hour that does not exist in
// spring, the hour that happens twice in autumn, and explicit offsets. Pure; the state that tells a
// first autumn occurrence from a second belongs to the caller (AmbiguousTimeTracker holds it).

import { DAY_MS, HOUR_MS, type SettlementDay } from './settlement-calendar.js';

export type LocalTimeResolution =
  | { readonly kind: 'unique'; readonly utcMs: number }
  /** 01:00–01:59 on the autumn day: first BST (UTC+1), then GMT. */
  | {
      readonly kind: 'ambiguous';
      readonly bstUtcMs: number;
      readonly gmtUtcMs: number;
      readonly local: string;
    }
  /** 01:00–01:59 on the spring day: the clocks skip it. */
  | { readonly kind: 'nonexistent'; readonly message: string };

function pad2(value: number): string {
  return value < 10 ? `0${value}` : String(value);
}

function describeLocal(day: SettlementDay, msOfDay: number): string {
  const minutes = Math.floor(msOfDay / 60_000);
  return `${day.date} ${pad2(Math.floor(minutes / 60))}:${pad2(minutes % 60)}`;
}

/**
 * The UTC instant of a Europe/London wall-clock time on `day`, `msOfDay` after local 00:00 as written
 * (0 ≤ msOfDay < 24 h). Constant-time arithmetic on the day's precomputed kind.
 */
export function resolveLocalTime(day: SettlementDay, msOfDay: number): LocalTimeResolution {
  const base = day.dayNumber * DAY_MS + msOfDay;
  switch (day.kind) {
    case 'normal':
      return { kind: 'unique', utcMs: day.isMidnightBst ? base - HOUR_MS : base };
    case 'spring-forward':
      if (msOfDay < HOUR_MS) return { kind: 'unique', utcMs: base };
      if (msOfDay >= 2 * HOUR_MS) return { kind: 'unique', utcMs: base - HOUR_MS };
      return {
        kind: 'nonexistent',
        message: `Local time ${describeLocal(day, msOfDay)} does not exist: UK clocks go forward from 01:00 GMT to 02:00 BST on ${day.date}`,
      };
    case 'autumn-back':
      if (msOfDay < HOUR_MS) return { kind: 'unique', utcMs: base - HOUR_MS };
      if (msOfDay >= 2 * HOUR_MS) return { kind: 'unique', utcMs: base };
      return {
        kind: 'ambiguous',
        bstUtcMs: base - HOUR_MS,
        gmtUtcMs: base,
        local: describeLocal(day, msOfDay),
      };
  }
}

/** A date and time of day at a fixed offset from UTC (`Z` is 0, `+01:00` is 60). */
export function instantAtOffset(day: SettlementDay, msOfDay: number, offsetMinutes: number): number {
  return day.dayNumber * DAY_MS + msOfDay - offsetMinutes * 60_000;
}

export type InstantResult =
  | { readonly ok: true; readonly utcMs: number }
  | { readonly ok: false; readonly reason: string };

export type TrackerState = ReadonlyArray<readonly [string, number]>;

/**
 * Counts, per meter, how often each ambiguous autumn time has been seen in one file: the first is the
 * BST instant, the second the GMT one, a third is an error. Only ambiguous times are remembered (two
 * hours a year per meter), so it stays small; snapshot/restore let a resumed run carry it on.
 */
export class AmbiguousTimeTracker {
  private readonly seen: Map<string, number>;

  constructor(state: TrackerState = []) {
    this.seen = new Map(state);
  }

  /** The instant a resolved local time stands for, counting it as seen for `meterKey`. */
  resolve(meterKey: string, resolution: LocalTimeResolution): InstantResult {
    if (resolution.kind === 'unique') return { ok: true, utcMs: resolution.utcMs };
    if (resolution.kind === 'nonexistent') return { ok: false, reason: resolution.message };
    const key = `${meterKey}\u0000${resolution.bstUtcMs}`;
    const count = (this.seen.get(key) ?? 0) + 1;
    if (count > 2) {
      return {
        ok: false,
        reason: `Local time ${resolution.local} appears a third time for this meter; it happens only twice (BST, then GMT)`,
      };
    }
    this.seen.set(key, count);
    return { ok: true, utcMs: count === 1 ? resolution.bstUtcMs : resolution.gmtUtcMs };
  }

  snapshot(): TrackerState {
    return [...this.seen.entries()];
  }
}
