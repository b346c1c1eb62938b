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
  metrics.addMetric('StoppedStatements', MetricUnit.Count, report.stoppedStatements);
  metrics.addMetric('KillsLeft', MetricUnit.Count, report.killsLeft);
  recordCounterMetrics(metrics, report);
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
    const accepted = report.counters?.userConnections?.find((entry) => entry.user === usage.user);
    if (accepted?.delta !== null && accepted?.delta !== undefined) {
      // Logins accepted since the last run (performance_schema.accounts): with one connection per
      // invocation, roughly the invocations that reached the database.
      perUser.addMetric('ConnectionsAccepted', MetricUnit.Count, accepted.delta);
    }
    perUser.publishStoredMetrics();
  }
}

/**
 * What moved on the server since the last scheduled run (a delta only when there is an earlier reading
 * of the same server), and the peak since it started.
 */
function recordCounterMetrics(metrics: Metrics, report: MonitorReport): void {
  const counters = report.counters;
  if (counters === null) return;
  if (counters.abortedConnects.delta !== null) {
    metrics.addMetric('AbortedConnects', MetricUnit.Count, counters.abortedConnects.delta);
  }
  if (counters.connectionErrorsMaxConnections.delta !== null) {
    metrics.addMetric(
      'ConnectionErrorsMaxConnections',
      MetricUnit.Count,
      counters.connectionErrorsMaxConnections.delta,
    );
  }
  metrics.addMetric('MaxUsedConnections', MetricUnit.Count, counters.maxUsedConnections);
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
