// Compares the live database with the stage's connection budget: does the app user's effective limit
// still allow what the stage was planned for? Pure: the numbers come from the report and the config.

import { appUserConnectionShortfall } from '../budget.js';
import type { MonitorBudget } from '../config.js';
import type { UserUsage } from './policy.js';

export type BudgetComparison = {
  /** The tightest effective limit among the target users, as the database enforces it now. */
  readonly liveLimit: number;
  readonly assumedLimit: number;
  readonly budgetedConnections: number;
  readonly headroom: number;
  /** Connections the functions may open that the live limit cannot take (0 when it covers them). */
  readonly shortfall: number;
  /** True when the live database allows fewer connections than the stage assumes. */
  readonly belowAssumed: boolean;
};

export function compareWithBudget(
  users: readonly UserUsage[],
  budget: MonitorBudget | undefined,
): BudgetComparison | null {
  if (budget === undefined || users.length === 0) return null;
  const liveLimit = Math.min(...users.map((usage) => usage.effectiveLimit));
  return {
    liveLimit,
    assumedLimit: budget.assumedMaxUserConnections,
    budgetedConnections: budget.appUserConnections,
    headroom: budget.headroom,
    shortfall: appUserConnectionShortfall(liveLimit, {
      appUserConnections: budget.appUserConnections,
      headroom: budget.headroom,
    }),
    belowAssumed: liveLimit < budget.assumedMaxUserConnections,
  };
}
