import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { type Config, loadConfig, type MonitorConfig } from '../lib/config.js';
import { ConnectionTally, createFunctionMetrics, publishConnectionTally } from '../lib/connection-metrics.js';
import { withConnection } from '../lib/db.js';
import { ConfigError } from '../lib/errors.js';
import { logger } from '../lib/logger.js';
import { compareWithBudget } from '../lib/monitor/budget-check.js';
import { createMonitorMetrics, recordMonitorMetrics } from '../lib/monitor/metrics.js';
import { type MonitorReport, monitorInputFrom, runMonitor } from '../lib/monitor/run-monitor.js';
import { resolveTargetUsers } from '../lib/monitor/target-users.js';
import { type SecretCache, sharedSecretCache } from '../lib/secrets.js';

export type MonitorHandlerOptions = {
  readonly metrics?: Metrics | undefined;
  readonly secrets?: SecretCache | undefined;
};

export function createMonitorHandler(config: Config, options: MonitorHandlerOptions = {}) {
  // Metrics buffer numbers in memory and write them to stdout: no socket, so one per handler is fine.
  const metrics = options.metrics ?? createMonitorMetrics(config.stage);
  const connectionMetrics = createFunctionMetrics(config.stage, 'monitor');
  return async (_event: unknown, context: Context): Promise<MonitorReport> => {
    // Request id, function name and cold start on every log line of this invocation.
    logger.addContext(context);
    const monitor = requireMonitorConfig(config.monitor);
    const tally = new ConnectionTally();
    try {
      const secrets = options.secrets ?? sharedSecretCache(monitor.db.secretCacheTtlMs);
      const targetUsers = await resolveTargetUsers(monitor.targetUsers, secrets);
      const report = await withConnection(
        monitor.db,
        (db) => runMonitor(db, monitorInputFrom(monitor, targetUsers, logger, true)),
        { invocation: context, secrets, connectionEvents: tally },
      );
      recordMonitorMetrics(metrics, report, config.stage);
      const budget = compareWithBudget(report.users, monitor.budget);
      if (budget !== null) {
        metrics.addMetric('BudgetShortfall', MetricUnit.Count, budget.shortfall);
        if (budget.belowAssumed || budget.shortfall > 0) {
          logger.warn('the live database allows fewer connections than the stage budget assumes', {
            ...budget,
          });
        }
      }
      logger.info('monitor run', {
        usageLevel: report.level,
        dryRun: report.dryRun,
        totalSessions: report.totalSessions,
        users: report.users,
        idleThresholdSeconds: report.idleThresholdSeconds,
        killCandidates: report.kills.length,
        killedSessions: report.killedSessions,
        killFailures: report.killFailures,
        stoppedStatements: report.stoppedStatements,
        killsLeft: report.killsLeft,
        counters: report.counters,
        countersNote: report.countersNote,
        importQueue: report.importQueue,
        importQueueSkipped: report.importQueueSkipped,
        budget,
      });
      return report;
    } finally {
      // A failed run has nothing to publish: its absence is what the "not reporting" alarm sees.
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
      publishConnectionTally(connectionMetrics, tally);
    }
  };
}

function requireMonitorConfig(monitor: MonitorConfig | undefined): MonitorConfig {
  if (monitor === undefined) {
    throw new ConfigError(
      'MONITOR_DB_SECRET_ID',
      'the monitor logs in as its own user: set MONITOR_DB_SECRET_ID or, locally, MONITOR_DB_USER and MONITOR_DB_PASSWORD',
    );
  }
  return monitor;
}

export const handler = createMonitorHandler(loadConfig(process.env));
