// The monitor's CloudWatch metrics, written as Embedded Metric Format lines by Powertools Metrics
// (stdout → CloudWatch Logs → metrics; no SDK call). serverless.yml's alarms and dashboard read these names.

import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE, METRICS_SERVICE } from '../connection-metrics.js';
import { logger } from '../logger.js';
import type { MonitorReport } from './run-monitor.js';

/** Session counts summed over the target users: metric name and the usage field it adds up. */
const SESSION_COUNTS = [
  ['TargetSessions', 'total'],
  ['ActiveSessions', 'active'],
  ['SleepingSessions', 'sleeping'],
  ['IdleSessions', 'idle'],
  ['IdleInTransactionSessions', 'idleInTransaction'],
] as const satisfies ReadonlyArray<readonly [string, keyof MonitorReport['users'][number]]>;

/** Metrics with the `service` and `stage` dimensions the alarms select on, plus any extra ones. */
export function createMonitorMetrics(stage: string, dimensions: Record<string, string> = {}): Metrics {
  return new Metrics({
    namespace: METRICS_NAMESPACE,
    serviceName: METRICS_SERVICE,
    defaultDimensions: { stage, ...dimensions },
    logger,
  });
}

/**
 * Adds one run's numbers to `metrics` (flushed by the caller in `finally`). Per-user usage goes out
 * at once as one extra line per target user, with a `user` dimension.
 */
export function recordMonitorMetrics(metrics: Metrics, report: MonitorReport, stage: string): void {
  const worst = [...report.users].sort((a, b) => b.usagePercent - a.usagePercent)[0];
  const sum = (pick: (usage: MonitorReport['users'][number]) => number) =>
    report.users.reduce((total, usage) => total + pick(usage), 0);
  metrics.addMetric('MonitorRun', MetricUnit.Count, 1);
  metrics.addMetric('UsagePercent', MetricUnit.Percent, round2(worst?.usagePercent ?? 0));
  metrics.addMetric(
    'EffectiveLimit',
    MetricUnit.Count,
    worst?.effectiveLimit ?? report.server.maxConnections,
  );
  // The server's own ceiling, counting every session including the monitor's (errno 1040 when full).
  metrics.addMetric(
    'ServerUsagePercent',
    MetricUnit.Percent,
    round2(((report.totalSessions + 1) / report.server.maxConnections) * 100),
  );
  for (const [name, field] of SESSION_COUNTS) {
    metrics.addMetric(
      name,
      MetricUnit.Count,
      sum((usage) => usage[field]),
    );
  }
  metrics.addMetric('KillCandidates', MetricUnit.Count, report.kills.length);
  metrics.addMetric('KilledSessions', MetricUnit.Count, report.killedSessions);
  metrics.addMetric('KillFailures', MetricUnit.Count, report.killFailures);
  if (report.importQueue !== null) {
    metrics.addMetric('ImportQueueDepth', MetricUnit.Count, report.importQueue.queued);
    metrics.addMetric('ImportStuckJobs', MetricUnit.Count, report.importQueue.stuck);
    metrics.addMetric('ImportFailureRate24h', MetricUnit.Percent, report.importQueue.failureRatePercent);
  }
  for (const usage of report.users) {
    const perUser = createMonitorMetrics(stage, { user: usage.user });
    perUser.addMetric('UsagePercent', MetricUnit.Percent, round2(usage.usagePercent));
    perUser.addMetric('EffectiveLimit', MetricUnit.Count, usage.effectiveLimit);
    perUser.addMetric('TargetSessions', MetricUnit.Count, usage.total);
    perUser.publishStoredMetrics();
  }
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
