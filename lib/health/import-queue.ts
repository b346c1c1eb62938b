// The import queue's health policy: stuck jobs, failure rate and queue depth over the last 24 hours →
// healthy | degraded | critical. Pure: the numbers come from the job repository. The failure rate
// counts only failures the system caused (job-error-codes.ts): a caller's broken files say nothing of
// the system's health. GET /api/health and the monitor's report and metric share failureRatePercent.

import type { ImportQueueStats } from '../imports/job-repository.js';

export type HealthStatus = 'healthy' | 'degraded' | 'critical';

export const FAILURE_RATE_DEGRADED_PERCENT = 25;
export const FAILURE_RATE_CRITICAL_PERCENT = 50;
export const MAX_QUEUE_DEPTH = 100;

export type ImportQueueCheck = {
  readonly status: HealthStatus;
  readonly queued: number;
  readonly processing: number;
  readonly stuck: number;
  /** Every job failed in the last 24 h, files rejected for their content included. */
  readonly failed_last_24h: number;
  /** Of those, the failures the system caused: retries exhausted, lost connections, deadlines. */
  readonly system_failed_last_24h: number;
  readonly finished_last_24h: number;
  /** System failures ÷ (completed + failed) over the last 24 h, two decimals; 0 when nothing finished. */
  readonly failure_rate_percent: number;
  /** Why the status is not healthy, one short phrase per reason. */
  readonly reasons: readonly string[];
};

/** System failures ÷ jobs finished (completed or failed) in the last 24 h, in percent, two decimals. */
export function failureRatePercent(stats: ImportQueueStats): number {
  return stats.finishedLast24h === 0
    ? 0
    : Math.round((stats.systemFailedLast24h / stats.finishedLast24h) * 10_000) / 100;
}

export function assessImportQueue(stats: ImportQueueStats): ImportQueueCheck {
  const ratePercent = failureRatePercent(stats);
  const reasons: string[] = [];
  let status: HealthStatus = 'healthy';
  if (ratePercent > FAILURE_RATE_CRITICAL_PERCENT) {
    status = 'critical';
    reasons.push(`failure rate ${ratePercent}% > ${FAILURE_RATE_CRITICAL_PERCENT}%`);
  } else if (ratePercent > FAILURE_RATE_DEGRADED_PERCENT) {
    status = 'degraded';
    reasons.push(`failure rate ${ratePercent}% > ${FAILURE_RATE_DEGRADED_PERCENT}%`);
  }
  if (stats.stuck > 0) {
    status = worse(status, 'degraded');
    reasons.push(`${stats.stuck} job(s) stuck in processing`);
  }
  if (stats.queued > MAX_QUEUE_DEPTH) {
    status = worse(status, 'degraded');
    reasons.push(`queue depth ${stats.queued} > ${MAX_QUEUE_DEPTH}`);
  }
  return {
    status,
    queued: stats.queued,
    processing: stats.processing,
    stuck: stats.stuck,
    failed_last_24h: stats.failedLast24h,
    system_failed_last_24h: stats.systemFailedLast24h,
    finished_last_24h: stats.finishedLast24h,
    failure_rate_percent: ratePercent,
    reasons,
  };
}

const SEVERITY: Readonly<Record<HealthStatus, number>> = { healthy: 0, degraded: 1, critical: 2 };

export function worse(a: HealthStatus, b: HealthStatus): HealthStatus {
  return SEVERITY[b] > SEVERITY[a] ? b : a;
}

/** healthy → 200, degraded → 207, critical → 503: the mapping existing health checkers expect. */
export function healthStatusCode(status: HealthStatus): number {
  return status === 'critical' ? 503 : status === 'degraded' ? 207 : 200;
}
