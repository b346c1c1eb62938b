// GET /api/health's aggregation: the database check and the import queue check over one connection,
// combined into healthy | degraded | critical. A database that does not answer is critical, never a 500.

import type { Db, RunWithDb } from '../db.js';
import { ConnectionLimitError, DATABASE_UNAVAILABLE_RETRY_AFTER_SECONDS } from '../errors.js';
import { type HttpResponse, json } from '../http.js';
import { importQueueHealth } from '../imports/job-repository.js';
import { logger } from '../logger.js';
import type { UsageThresholds } from '../monitor/policy.js';
import { type ConnectionUsage, checkDatabase } from './database.js';
import {
  assessImportQueue,
  type HealthStatus,
  healthStatusCode,
  type ImportQueueCheck,
} from './import-queue.js';

export type HealthReport = {
  readonly status: HealthStatus;
  readonly checks: {
    readonly database: { status: 'up'; round_trip_ms: number } | { status: 'down'; error: string };
    /** Informational: the monitor acts on usage and alarms on it; health's status does not follow it. */
    readonly connections?: ConnectionUsage;
    readonly import_queue: ImportQueueCheck | { status: 'critical' | 'unknown'; error?: string };
  };
  readonly timestamp: string;
};

export type HealthResult = { readonly report: HealthReport; readonly retryAfterSeconds: number | undefined };

export async function checkHealth(
  runWithDb: RunWithDb,
  thresholds: UsageThresholds,
  now: () => Date = () => new Date(),
): Promise<HealthResult> {
  try {
    const checks = await runWithDb(async (db) => {
      const database = await checkDatabase(db, thresholds);
      return {
        database: { status: database.status, round_trip_ms: database.roundTripMs },
        connections: database.connections,
        import_queue: await checkImportQueue(db),
      };
    });
    // The database answered, so the queue's verdict is the overall one.
    const status: HealthStatus = checks.import_queue.status;
    return { report: { status, checks, timestamp: now().toISOString() }, retryAfterSeconds: undefined };
  } catch (error) {
    return {
      report: {
        status: 'critical',
        checks: {
          database: { status: 'down', error: errorName(error) },
          import_queue: { status: 'unknown' },
        },
        timestamp: now().toISOString(),
      },
      // The database is down or did not answer in time: tell callers when to look again.
      retryAfterSeconds:
        error instanceof ConnectionLimitError
          ? error.retryAfterSeconds
          : DATABASE_UNAVAILABLE_RETRY_AFTER_SECONDS,
    };
  }
}

/** A failing queue query (e.g. the schema is missing) is reported as critical, not as a down database. */
async function checkImportQueue(db: Db): Promise<ImportQueueCheck | { status: 'critical'; error: string }> {
  try {
    return assessImportQueue(await importQueueHealth(db));
  } catch (error) {
    return { status: 'critical', error: errorName(error) };
  }
}

/** The error's driver code or class name: never its message, which may hold SQL or host names. */
export function errorName(error: unknown): string {
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') return error.code;
  return error instanceof Error ? error.name : 'Error';
}

/** GET /api/health: no authentication, 200 / 207 / 503 for healthy / degraded / critical. */
export async function healthResponse(
  runWithDb: RunWithDb,
  thresholds: UsageThresholds,
): Promise<HttpResponse> {
  const { report, retryAfterSeconds } = await checkHealth(runWithDb, thresholds);
  if (report.status === 'critical') {
    logger.warn('health check critical', {
      database: report.checks.database.status,
      importQueue: report.checks.import_queue.status,
    });
  }
  const headers = retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) };
  return json(healthStatusCode(report.status), report, headers);
}
