import { describe, expect, it } from 'vitest';
import { fullJitterDelayMs, jobRetryDelaySeconds } from '../../lib/backoff.js';

describe('fullJitterDelayMs', () => {
  it('scales a uniform draw by the exponentially growing ceiling', () => {
    expect(fullJitterDelayMs(1, 50, 2000, () => 0.5)).toBe(25);
    expect(fullJitterDelayMs(2, 50, 2000, () => 0.5)).toBe(50);
    expect(fullJitterDelayMs(4, 50, 2000, () => 0.5)).toBe(200);
  });

  it('never exceeds the cap', () => {
    expect(fullJitterDelayMs(30, 50, 2000, () => 0.999999)).toBe(1999);
  });

  it('can be zero (full jitter spreads retries from the start)', () => {
    expect(fullJitterDelayMs(3, 50, 2000, () => 0)).toBe(0);
  });
});

describe('jobRetryDelaySeconds', () => {
  it('doubles from one minute and stops at an hour', () => {
    expect([0, 1, 2, 3, 5, 6, 7, 20].map(jobRetryDelaySeconds)).toEqual([
      60, 120, 240, 480, 1920, 3600, 3600, 3600,
    ]);
  });
});
