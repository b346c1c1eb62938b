// Counts what one invocation's withConnection saw of the connection limits (connects refused with
// 1040/1203/1226, behind RDS Proxy also 9501, and giving up with ConnectionLimitError) and adds the counts to the function's EMF
// metrics. Counts only: nothing here holds a connection, so a per-handler Metrics object is fine.

import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { ConnectionEvents } from './db.js';
import { logger } from './logger.js';

export const METRICS_NAMESPACE = 'Eclectyc';
/** The `service` dimension; fixed so the alarms' dimensions never depend on an environment variable. */
export const METRICS_SERVICE = 'eclectyc';

/** The serverless.yml function keys: the `function` dimension the refusal alarms select on. */
export type FunctionKey = 'api' | 'processImports' | 'monitor';

/** One invocation's counts, fed by withConnection (options.connectionEvents). */
export class ConnectionTally implements ConnectionEvents {
  refusals = 0;
  limitErrors = 0;

  refused(): void {
    this.refusals++;
  }

  gaveUp(): void {
    this.limitErrors++;
  }
}

/** Metrics with the service, stage and function dimensions (namespace Eclectyc). */
export function createFunctionMetrics(stage: string, functionKey: FunctionKey): Metrics {
  return new Metrics({
    namespace: METRICS_NAMESPACE,
    serviceName: METRICS_SERVICE,
    defaultDimensions: { stage, function: functionKey },
    logger,
  });
}

/**
 * Writes the invocation's counts as one EMF line, and only when one is non-zero: an invocation that
 * connected at the first try writes nothing more than it did before (the alarms treat no data as 0).
 */
export function publishConnectionTally(metrics: Metrics, tally: ConnectionTally): void {
  if (tally.refusals > 0) metrics.addMetric('ConnectionRefusals', MetricUnit.Count, tally.refusals);
  if (tally.limitErrors > 0) metrics.addMetric('ConnectionLimitErrors', MetricUnit.Count, tally.limitErrors);
  if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
}
