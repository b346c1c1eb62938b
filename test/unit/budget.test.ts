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

describe('checkConnectionBudget in RDS Proxy mode', () => {
  const proxy = { maxConnectionsPercent: 50, borrowTimeoutSeconds: 5, functions: ['api'] };
  const withTimeouts = (api: number): BudgetFunction[] =>
    functions(api, 1, 1).map((fn) => ({ ...fn, timeoutSeconds: fn.key === 'api' ? 10 : 300 }));

  it('counts the proxy pool, not the API, against both limits: the API may exceed the pool', () => {
    const result = checkConnectionBudget({
      functions: withTimeouts(100),
      dbMaxUserConnections: 60,
      dbMaxConnections: 90,
      headroom: 2,
      proxy,
    });
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.rows).toContainEqual({
      key: 'api',
      dbUser: 'app',
      reservedConcurrency: 100,
      maxConnections: 0,
      via: 'proxy',
    });
    expect(result.rows).toContainEqual({
      key: 'rdsProxy',
      dbUser: 'app',
      reservedConcurrency: undefined,
      maxConnections: 45,
      via: 'pool',
    });
    expect(
      result.checks.map((check) => [check.scope, check.connections, check.breakdown, check.available]),
    ).toEqual([
      ['app user', 46, 'processImports 1 + rdsProxy 45', 58],
      ['all users', 47, 'processImports 1 + monitor 1 + rdsProxy 45', 88],
    ]);
    expect(result.totals).toEqual({ appUserConnections: 46, monitorConnections: 1, allConnections: 47 });
  });

  it('fails when the pool, the processor and the monitor overrun max_connections minus headroom', () => {
    const result = checkConnectionBudget({
      stage: 'prod',
      functions: withTimeouts(10),
      dbMaxUserConnections: 1000,
      dbMaxConnections: 100,
      headroom: 2,
      proxy: { ...proxy, maxConnectionsPercent: 97 },
    });
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual([
      'Stage prod can open 99 connections in all (processImports 1 + monitor 1 + rdsProxy 97) but dbMaxConnections 100 − headroom 2 leaves 98',
    ]);
  });

  it('fails when the app user’s limit cannot hold the pool beside the processor', () => {
    const result = checkConnectionBudget({
      functions: withTimeouts(10),
      dbMaxUserConnections: 30,
      dbMaxConnections: 90,
      headroom: 2,
      proxy,
    });
    expect(result.problems).toEqual([
      'The stage can open 46 app-user connections (processImports 1 + rdsProxy 45) but dbMaxUserConnections 30 − headroom 2 leaves 28',
    ]);
  });

  it('needs max_connections to size the pool', () => {
    const result = checkConnectionBudget({
      functions: withTimeouts(10),
      dbMaxUserConnections: 30,
      headroom: 2,
      proxy,
    });
    expect(result.ok).toBe(false);
    expect(result.problems).toContain(
      "The stage uses RDS Proxy: set dbMaxConnections (the server's max_connections), which sizes its pool",
    );
  });

  it('fails a borrow timeout that does not end before the API’s own timeout', () => {
    for (const borrowTimeoutSeconds of [10, 11]) {
      const result = checkConnectionBudget({
        functions: withTimeouts(10),
        dbMaxUserConnections: 60,
        dbMaxConnections: 90,
        headroom: 2,
        proxy: { ...proxy, borrowTimeoutSeconds },
      });
      expect(result.problems).toEqual([
        `The stage: the proxy's ConnectionBorrowTimeout ${borrowTimeoutSeconds} s must be below api's timeout 10 s, or a queued borrow outlives the invocation`,
      ]);
    }
    const fits = checkConnectionBudget({
      functions: withTimeouts(10),
      dbMaxUserConnections: 60,
      dbMaxConnections: 90,
      headroom: 2,
      proxy: { ...proxy, borrowTimeoutSeconds: 9 },
    });
    expect(fits.ok).toBe(true);
  });

  it('fails a pool rounded down to nothing and a percentage out of range', () => {
    const tiny = checkConnectionBudget({
      functions: withTimeouts(10),
      dbMaxUserConnections: 60,
      dbMaxConnections: 10,
      headroom: 2,
      proxy: { ...proxy, maxConnectionsPercent: 5 },
    });
    expect(tiny.problems).toContain(
      'The stage: dbProxyMaxConnectionsPercent 5 of dbMaxConnections 10 leaves the proxy no connection',
    );
    const over = checkConnectionBudget({
      functions: withTimeouts(10),
      dbMaxUserConnections: 600,
      dbMaxConnections: 90,
      headroom: 2,
      proxy: { ...proxy, maxConnectionsPercent: 101 },
    });
    expect(over.problems).toContain(
      'dbProxyMaxConnectionsPercent must be a whole number from 1 to 100, not 101',
    );
  });

  it('still requires reserved concurrency on the function behind the proxy', () => {
    const result = checkConnectionBudget({
      functions: functions(undefined, 1, 1).map((fn) => ({ ...fn, timeoutSeconds: 10 })),
      dbMaxUserConnections: 60,
      dbMaxConnections: 90,
      headroom: 2,
      proxy,
    });
    expect(result.problems).toContain(
      'The stage: function api has no reservedConcurrency, so it can open unbounded app-user connections; give it one',
    );
  });
});
