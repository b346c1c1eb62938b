import { describe, expect, it } from 'vitest';
import { compareWithBudget } from '../../../lib/monitor/budget-check.js';
import type { UserUsage } from '../../../lib/monitor/policy.js';

function usage(user: string, effectiveLimit: number): UserUsage {
  return {
    user,
    accountLimit: effectiveLimit,
    accountFound: true,
    effectiveLimit,
    total: 0,
    active: 0,
    sleeping: 0,
    idle: 0,
    idleInTransaction: 0,
    usagePercent: 0,
    level: 'healthy',
  };
}

const BUDGET = { assumedMaxUserConnections: 30, appUserConnections: 11, headroom: 2 };

describe('compareWithBudget', () => {
  it('finds no shortfall when the live limit is what the stage assumes', () => {
    expect(compareWithBudget([usage('app', 30)], BUDGET)).toEqual({
      liveLimit: 30,
      assumedLimit: 30,
      budgetedConnections: 11,
      headroom: 2,
      shortfall: 0,
      belowAssumed: false,
    });
  });

  it('flags a live limit below the assumption even while the budget still fits', () => {
    expect(compareWithBudget([usage('app', 20)], BUDGET)).toMatchObject({ shortfall: 0, belowAssumed: true });
  });

  it('counts the shortfall against the budget plus headroom, on the tightest target user', () => {
    expect(compareWithBudget([usage('app', 30), usage('app2', 10)], BUDGET)).toMatchObject({
      liveLimit: 10,
      shortfall: 3,
      belowAssumed: true,
    });
  });

  it('is null without a budget or without target users', () => {
    expect(compareWithBudget([usage('app', 30)], undefined)).toBeNull();
    expect(compareWithBudget([], BUDGET)).toBeNull();
  });
});
