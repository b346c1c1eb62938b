import { describe, expect, it } from 'vitest';
import {
  assessImportQueue,
  failureRatePercent,
  type HealthStatus,
  healthStatusCode,
} from '../../lib/health/import-queue.js';
import { CONTENT_ERROR_CODES, isSystemFailure, JOB_ERROR_CODES } from '../../lib/imports/job-error-codes.js';

const QUIET = {
  queued: 0,
  processing: 0,
  stuck: 0,
  failedLast24h: 0,
  systemFailedLast24h: 0,
  finishedLast24h: 0,
};

describe('assessImportQueue', () => {
  it.each([
    [{ systemFailedLast24h: 1, failedLast24h: 1, finishedLast24h: 4 }, 'healthy', 25],
    [{ systemFailedLast24h: 26, failedLast24h: 26, finishedLast24h: 100 }, 'degraded', 26],
    [{ systemFailedLast24h: 1, failedLast24h: 1, finishedLast24h: 2 }, 'degraded', 50],
    [{ systemFailedLast24h: 51, failedLast24h: 51, finishedLast24h: 100 }, 'critical', 51],
    [{ systemFailedLast24h: 0, failedLast24h: 0, finishedLast24h: 0 }, 'healthy', 0],
  ])('rates %j as %s (failure rate %s %)', (numbers, status, rate) => {
    const check = assessImportQueue({ ...QUIET, ...numbers });
    expect(check.status).toBe(status);
    expect(check.failure_rate_percent).toBe(rate);
  });

  it('stays healthy when every failure is a file rejected for its content', () => {
    const check = assessImportQueue({
      ...QUIET,
      failedLast24h: 9,
      systemFailedLast24h: 0,
      finishedLast24h: 10,
    });
    expect(check).toMatchObject({
      status: 'healthy',
      failed_last_24h: 9,
      system_failed_last_24h: 0,
      failure_rate_percent: 0,
      reasons: [],
    });
  });

  it('reports the same rate the monitor publishes', () => {
    const stats = { ...QUIET, failedLast24h: 7, systemFailedLast24h: 3, finishedLast24h: 9 };
    expect(assessImportQueue(stats).failure_rate_percent).toBe(failureRatePercent(stats));
    expect(failureRatePercent(stats)).toBe(33.33);
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
      systemFailedLast24h: 3,
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

describe('isSystemFailure', () => {
  it('is false for files rejected for their content', () => {
    expect(CONTENT_ERROR_CODES.map(isSystemFailure)).toEqual(CONTENT_ERROR_CODES.map(() => false));
  });

  it('is true for retries exhausted, database and internal errors, and any unclassified failure', () => {
    const system = [
      JOB_ERROR_CODES.RETRIES_EXHAUSTED,
      JOB_ERROR_CODES.DATABASE_ERROR,
      JOB_ERROR_CODES.INTERNAL_ERROR,
      'a_code_added_later',
      null,
      undefined,
    ];
    expect(system.map(isSystemFailure)).toEqual(system.map(() => true));
  });
});

describe('healthStatusCode', () => {
  it('maps healthy, degraded and critical to 200, 207 and 503', () => {
    const statuses: HealthStatus[] = ['healthy', 'degraded', 'critical'];
    expect(statuses.map(healthStatusCode)).toEqual([200, 207, 503]);
  });
});
