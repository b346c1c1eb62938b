import { describe, expect, it } from 'vitest';
import {
  appUserConnectionShortfall,
  type BudgetFunction,
  checkConnectionBudget,
  connectionsBudgetedForAppUser,
} from '../../lib/budget.js';

/** api, processImports, monitor: undefined is a missing reservedConcurrency (no defaults, on purpose). */
function functions(
  api: number | undefined,
  processImports: number | undefined,
  monitor: number | undefined,
): BudgetFunction[] {
  return [
    { key: 'api', reservedConcurrency: api, dbUser: 'app' },
    { key: 'processImports', reservedConcurrency: processImports, dbUser: 'app' },
    { key: 'monitor', reservedConcurrency: monitor, dbUser: 'monitor' },
  ];
}

describe('checkConnectionBudget', () => {
  it('passes the default stage: api 10 + processImports 1 fits 30 − 2', () => {
    const result = checkConnectionBudget({
      stage: 'prod',
      functions: functions(10, 1, 1),
      dbMaxUserConnections: 30,
      headroom: 2,
    });
    expect(result.ok).toBe(true);
    expect(result.problems).toEqual([]);
    expect(result.totals).toEqual({ appUserConnections: 11, monitorConnections: 1, allConnections: 12 });
    expect(result.rows).toEqual([
      { key: 'api', dbUser: 'app', reservedConcurrency: 10, maxConnections: 10 },
      { key: 'processImports', dbUser: 'app', reservedConcurrency: 1, maxConnections: 1 },
      { key: 'monitor', dbUser: 'monitor', reservedConcurrency: 1, maxConnections: 1 },
    ]);
    expect(result.checks).toEqual([
      {
        scope: 'app user',
        connections: 11,
        breakdown: 'api 10 + processImports 1',
        limitName: 'dbMaxUserConnections',
        limit: 30,
        headroom: 2,
        available: 28,
        unbounded: [],
        ok: true,
      },
    ]);
  });

  it('fails an overcommitted stage with a message naming every number', () => {
    const result = checkConnectionBudget({
      stage: 'prod',
      functions: functions(40, 1, 1),
      dbMaxUserConnections: 40,
      headroom: 2,
    });
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual([
      'Stage prod can open 41 app-user connections (api 40 + processImports 1) but dbMaxUserConnections 40 − headroom 2 leaves 38',
    ]);
    expect(result.checks[0]?.ok).toBe(false);
  });

  it('passes exactly at the limit minus headroom and fails one above it', () => {
    const at = checkConnectionBudget({
      functions: functions(27, 1, 1),
      dbMaxUserConnections: 30,
      headroom: 2,
    });
    const over = checkConnectionBudget({
      functions: functions(28, 1, 1),
      dbMaxUserConnections: 30,
      headroom: 2,
    });
    expect(at.ok).toBe(true);
    expect(at.checks[0]).toMatchObject({ connections: 28, available: 28, ok: true });
    expect(over.ok).toBe(false);
    expect(over.problems).toEqual([
      'The stage can open 29 app-user connections (api 28 + processImports 1) but dbMaxUserConnections 30 − headroom 2 leaves 28',
    ]);
  });

  it('does not count the monitor against the app user, since it logs in as its own user', () => {
    const result = checkConnectionBudget({
      functions: functions(27, 1, 50),
      dbMaxUserConnections: 30,
      headroom: 2,
    });
    expect(result.ok).toBe(true);
    expect(result.totals.monitorConnections).toBe(50);
  });

  it('fails a function without reservedConcurrency: unbounded concurrency is unbounded connections', () => {
    const result = checkConnectionBudget({
      stage: 'dev',
      functions: functions(undefined, 1, 1),
      dbMaxUserConnections: 30,
      headroom: 2,
    });
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual([
      'Stage dev: function api has no reservedConcurrency, so it can open unbounded app-user connections; give it one',
    ]);
    expect(result.rows[0]).toEqual({
      key: 'api',
      dbUser: 'app',
      reservedConcurrency: undefined,
      maxConnections: undefined,
    });
    expect(result.checks[0]).toMatchObject({
      breakdown: 'api unbounded + processImports 1',
      unbounded: ['api'],
      ok: false,
    });
  });

  it('fails a monitor without reservedConcurrency too', () => {
    const result = checkConnectionBudget({
      functions: functions(10, 1, undefined),
      dbMaxUserConnections: 30,
      headroom: 2,
    });
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual([
      'The stage: function monitor has no reservedConcurrency, so it can open unbounded monitor-user connections; give it one',
    ]);
  });

  it('checks app-user functions and the monitor together against dbMaxConnections when it is set', () => {
    const fits = checkConnectionBudget({
      stage: 'prod',
      functions: functions(10, 1, 1),
      dbMaxUserConnections: 30,
      headroom: 2,
      dbMaxConnections: 14,
    });
    expect(fits.ok).toBe(true);
    expect(fits.checks[1]).toMatchObject({
      scope: 'all users',
      connections: 12,
      breakdown: 'api 10 + processImports 1 + monitor 1',
      available: 12,
      ok: true,
    });

    const over = checkConnectionBudget({
      stage: 'prod',
      functions: functions(10, 1, 2),
      dbMaxUserConnections: 30,
      headroom: 2,
      dbMaxConnections: 14,
    });
    expect(over.ok).toBe(false);
    expect(over.problems).toEqual([
      'Stage prod can open 13 connections in all (api 10 + processImports 1 + monitor 2) but dbMaxConnections 14 − headroom 2 leaves 12',
    ]);
    expect(over.checks[0]?.ok).toBe(true);
  });

  it('skips the all-users check when dbMaxConnections is not set', () => {
    const result = checkConnectionBudget({
      functions: functions(10, 1, 500),
      dbMaxUserConnections: 30,
      headroom: 2,
    });
    expect(result.ok).toBe(true);
    expect(result.checks.map((check) => check.scope)).toEqual(['app user']);
  });

  it('reports limits that are not usable numbers instead of passing them', () => {
    const result = checkConnectionBudget({
      functions: [{ key: 'api', reservedConcurrency: -1, dbUser: 'app' }],
      dbMaxUserConnections: 0,
      headroom: 1.5,
      dbMaxConnections: Number.NaN,
    });
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual(
      expect.arrayContaining([
        'dbMaxUserConnections must be a positive whole number, not 0',
        'dbConnectionHeadroom must be a whole number ≥ 0, not 1.5',
        'dbMaxConnections must be a positive whole number, not NaN',
        'api: reservedConcurrency must be a whole number ≥ 0, not -1',
      ]),
    );
  });

  it('fails when the headroom takes the whole limit', () => {
    const result = checkConnectionBudget({
      functions: functions(1, 0, 1),
      dbMaxUserConnections: 2,
      headroom: 2,
    });
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual([
      'The stage can open 1 app-user connections (api 1 + processImports 0) but dbMaxUserConnections 2 − headroom 2 leaves 0',
    ]);
  });
});

describe('connectionsBudgetedForAppUser', () => {
  it('sums the app-user functions only', () => {
    expect(connectionsBudgetedForAppUser(functions(10, 1, 5))).toBe(11);
  });

  it('is undefined when an app-user function is unbounded', () => {
    expect(connectionsBudgetedForAppUser(functions(undefined, 1, 1))).toBeUndefined();
  });
});

describe('appUserConnectionShortfall', () => {
  it('is 0 when the live limit covers the budget and its headroom', () => {
    expect(appUserConnectionShortfall(13, { appUserConnections: 11, headroom: 2 })).toBe(0);
    expect(appUserConnectionShortfall(30, { appUserConnections: 11, headroom: 2 })).toBe(0);
  });

  it('counts the connections the live limit is short by', () => {
    expect(appUserConnectionShortfall(10, { appUserConnections: 11, headroom: 2 })).toBe(3);
  });
});
