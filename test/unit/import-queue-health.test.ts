import { describe, expect, it } from 'vitest';
import { assessImportQueue, type HealthStatus, healthStatusCode } from '../../lib/health/import-queue.js';

const QUIET = { queued: 0, processing: 0, stuck: 0, failedLast24h: 0, finishedLast24h: 0 };

describe('assessImportQueue', () => {
  it.each([
    [{ failedLast24h: 1, finishedLast24h: 4 }, 'healthy', 25],
    [{ failedLast24h: 26, finishedLast24h: 100 }, 'degraded', 26],
    [{ failedLast24h: 1, finishedLast24h: 2 }, 'degraded', 50],
    [{ failedLast24h: 51, finishedLast24h: 100 }, 'critical', 51],
    [{ failedLast24h: 0, finishedLast24h: 0 }, 'healthy', 0],
  ])('rates %j as %s (failure rate %s %)', (numbers, status, rate) => {
    const check = assessImportQueue({ ...QUIET, ...numbers });
    expect(check.status).toBe(status);
    expect(check.failure_rate_percent).toBe(rate);
  });

  it('is degraded at a queue depth of 101, not 100', () => {
    expect(assessImportQueue({ ...QUIET, queued: 100 }).status).toBe('healthy');
    expect(assessImportQueue({ ...QUIET, queued: 101 }).status).toBe('degraded');
  });

  it('keeps critical when a lesser reason adds to it, and lists every reason', () => {
    const check = assessImportQueue({
      queued: 150,
      processing: 2,
      stuck: 1,
      failedLast24h: 3,
      finishedLast24h: 4,
    });
    expect(check.status).toBe('critical');
    expect(check.reasons).toEqual([
      'failure rate 75% > 50%',
      '1 job(s) stuck in processing',
      'queue depth 150 > 100',
    ]);
  });
});

describe('healthStatusCode', () => {
  it('maps healthy, degraded and critical to 200, 207 and 503', () => {
    const statuses: HealthStatus[] = ['healthy', 'degraded', 'critical'];
    expect(statuses.map(healthStatusCode)).toEqual([200, 207, 503]);
  });
});
