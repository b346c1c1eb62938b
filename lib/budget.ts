// The connection budget of a stage: each invocation holds at most one MySQL connection, so a function's
// reserved concurrency is the most connections it can hold; their sums must fit the database's limits
// minus a headroom. Pure arithmetic over numbers it is given: no config, no I/O, no process.env.

export type DbUser = 'app' | 'monitor';

export type BudgetFunction = {
  readonly key: string;
  /** Lambda reserved concurrency; undefined means unbounded, which is itself a failure. */
  readonly reservedConcurrency: number | undefined;
  /** The database user its one connection logs in as. */
  readonly dbUser: DbUser;
  /** Its Lambda timeout; needed only for a function behind the proxy (the borrow timeout must fit in it). */
  readonly timeoutSeconds?: number | undefined;
};

/**
 * RDS Proxy mode: the listed functions' connections go to the proxy, which opens at most
 * MaxConnectionsPercent of max_connections to the database (as the app user) and queues borrows beyond
 * that for up to ConnectionBorrowTimeout. See docs/design.md#rds-proxy-and-iam-authentication.
 */
export type BudgetProxy = {
  readonly maxConnectionsPercent: number;
  readonly borrowTimeoutSeconds: number;
  readonly functions: readonly string[];
};

/** The row that stands for the proxy's pool of database connections. */
export const PROXY_POOL_KEY = 'rdsProxy';

export type BudgetInput = {
  /** Only used to name the stage in messages. */
  readonly stage?: string | undefined;
  readonly functions: readonly BudgetFunction[];
  /** The app user's effective limit: its MAX_USER_CONNECTIONS, else the global max_user_connections. */
  readonly dbMaxUserConnections: number;
  /** Connections kept free for people and tools (a migration run, an operator's CLI session). */
  readonly headroom: number;
  /** The server's max_connections; when given, every function's connections must fit it too. */
  readonly dbMaxConnections?: number | undefined;
  /** Set when the stage runs with dbProxy=true. */
  readonly proxy?: BudgetProxy | undefined;
};

export type BudgetRow = {
  readonly key: string;
  readonly dbUser: DbUser;
  readonly reservedConcurrency: number | undefined;
  /** Database connections: one per concurrent invocation (0 behind the proxy); undefined when unbounded. */
  readonly maxConnections: number | undefined;
  /** Proxy mode only: `proxy` for a function behind it, `pool` for the proxy's own row. */
  readonly via?: 'proxy' | 'pool';
};

export type BudgetCheck = {
  /** `app user`: app-user functions vs dbMaxUserConnections; `all users`: every function vs dbMaxConnections. */
  readonly scope: 'app user' | 'all users';
  /** Sum of the bounded functions in scope. */
  readonly connections: number;
  /** `api 10 + processImports 1`. */
  readonly breakdown: string;
  readonly limitName: 'dbMaxUserConnections' | 'dbMaxConnections';
  readonly limit: number;
  readonly headroom: number;
  /** limit − headroom: the most the functions may hold. */
  readonly available: number;
  /** Keys of functions in scope without reserved concurrency. */
  readonly unbounded: readonly string[];
  readonly ok: boolean;
};

export type BudgetResult = {
  readonly rows: readonly BudgetRow[];
  readonly totals: {
    readonly appUserConnections: number;
    readonly monitorConnections: number;
    readonly allConnections: number;
  };
  /** The app-user check always; the all-users check only when dbMaxConnections is given. */
  readonly checks: readonly BudgetCheck[];
  readonly ok: boolean;
  /** One sentence per failure, naming the numbers. */
  readonly problems: readonly string[];
};

export function checkConnectionBudget(input: BudgetInput): BudgetResult {
  const stage = input.stage === undefined ? 'The stage' : `Stage ${input.stage}`;
  const problems = invalidNumbers(input);
  const proxied = new Set(input.proxy?.functions ?? []);
  const rows: BudgetRow[] = input.functions.map((fn) => ({
    key: fn.key,
    dbUser: fn.dbUser,
    reservedConcurrency: fn.reservedConcurrency,
    ...(proxied.has(fn.key)
      ? { maxConnections: 0, via: 'proxy' as const }
      : { maxConnections: fn.reservedConcurrency }),
  }));
  for (const row of rows) {
    if (row.reservedConcurrency === undefined) {
      problems.push(
        `${stage}: function ${row.key} has no reservedConcurrency, so it can open unbounded ` +
          `${row.dbUser === 'app' ? 'app-user' : 'monitor-user'} connections; give it one`,
      );
    }
  }
  if (input.proxy !== undefined) {
    problems.push(...proxyProblems(stage, input, input.proxy));
    // The proxy's pool logs in as the app user; the functions behind it hold no database connection.
    rows.push({
      key: PROXY_POOL_KEY,
      dbUser: 'app',
      reservedConcurrency: undefined,
      maxConnections: proxyPoolSize(input.dbMaxConnections ?? 0, input.proxy.maxConnectionsPercent),
      via: 'pool',
    });
  }
  // The rows that hold database connections: every one but a function's behind the proxy.
  const direct = rows.filter((row) => row.via !== 'proxy');
  const appRows = direct.filter((row) => row.dbUser === 'app');
  const checks: BudgetCheck[] = [
    check('app user', appRows, 'dbMaxUserConnections', input.dbMaxUserConnections, input.headroom),
  ];
  if (input.dbMaxConnections !== undefined) {
    checks.push(check('all users', direct, 'dbMaxConnections', input.dbMaxConnections, input.headroom));
  }
  for (const failed of checks) {
    if (failed.connections <= failed.available) continue;
    const what = failed.scope === 'app user' ? 'app-user connections' : 'connections in all';
    problems.push(
      `${stage} can open ${failed.connections} ${what} (${failed.breakdown}) but ` +
        `${failed.limitName} ${failed.limit} − headroom ${failed.headroom} leaves ${failed.available}`,
    );
  }
  const totals = {
    appUserConnections: sumBounded(appRows),
    monitorConnections: sumBounded(rows.filter((row) => row.dbUser === 'monitor')),
    allConnections: sumBounded(direct),
  };
  return { rows, totals, checks, ok: problems.length === 0, problems };
}

/** The most database connections the proxy opens: MaxConnectionsPercent of max_connections, rounded down. */
export function proxyPoolSize(dbMaxConnections: number, maxConnectionsPercent: number): number {
  return Math.floor((dbMaxConnections * maxConnectionsPercent) / 100);
}

/**
 * What proxy mode needs on top of the connection checks: max_connections to size the pool, a pool of at
 * least one, and a borrow timeout that ends before each proxied function's own timeout. A function's
 * reserved concurrency may exceed the pool: its borrows queue.
 */
function proxyProblems(stage: string, input: BudgetInput, proxy: BudgetProxy): string[] {
  const problems: string[] = [];
  if (input.dbMaxConnections === undefined) {
    problems.push(
      `${stage} uses RDS Proxy: set dbMaxConnections (the server's max_connections), which sizes its pool`,
    );
  } else if (proxyPoolSize(input.dbMaxConnections, proxy.maxConnectionsPercent) < 1) {
    problems.push(
      `${stage}: dbProxyMaxConnectionsPercent ${proxy.maxConnectionsPercent} of dbMaxConnections ${input.dbMaxConnections} leaves the proxy no connection`,
    );
  }
  if (
    !Number.isSafeInteger(proxy.maxConnectionsPercent) ||
    proxy.maxConnectionsPercent < 1 ||
    proxy.maxConnectionsPercent > 100
  ) {
    problems.push(
      `dbProxyMaxConnectionsPercent must be a whole number from 1 to 100, not ${proxy.maxConnectionsPercent}`,
    );
  }
  for (const key of proxy.functions) {
    const fn = input.functions.find((candidate) => candidate.key === key);
    if (fn === undefined) {
      problems.push(`${stage}: dbProxyFunctions names ${key}, which is not a function of the stage`);
    } else if (fn.timeoutSeconds === undefined || proxy.borrowTimeoutSeconds >= fn.timeoutSeconds) {
      problems.push(
        `${stage}: the proxy's ConnectionBorrowTimeout ${proxy.borrowTimeoutSeconds} s must be below ${key}'s timeout ` +
          `${fn.timeoutSeconds ?? 'unset'} s, or a queued borrow outlives the invocation`,
      );
    }
  }
  return problems;
}

/**
 * The most connections the app user's functions can hold at once (their reserved concurrency summed),
 * or undefined when one of them is unbounded. What the live effective limit must allow, plus headroom.
 */
export function connectionsBudgetedForAppUser(functions: readonly BudgetFunction[]): number | undefined {
  let total = 0;
  for (const fn of functions) {
    if (fn.dbUser !== 'app') continue;
    if (fn.reservedConcurrency === undefined) return undefined;
    total += fn.reservedConcurrency;
  }
  return total;
}

/**
 * How many connections the live database is short of the budget: budgeted + headroom − the app user's
 * live effective limit, or 0 when the limit covers it. For the monitor to report (metric + log).
 */
export function appUserConnectionShortfall(
  liveEffectiveLimit: number,
  budget: { readonly appUserConnections: number; readonly headroom: number },
): number {
  return Math.max(0, budget.appUserConnections + budget.headroom - liveEffectiveLimit);
}

function check(
  scope: BudgetCheck['scope'],
  rows: readonly BudgetRow[],
  limitName: BudgetCheck['limitName'],
  limit: number,
  headroom: number,
): BudgetCheck {
  const connections = sumBounded(rows);
  const available = limit - headroom;
  const unbounded = rows.filter((row) => row.maxConnections === undefined).map((row) => row.key);
  const breakdown = rows
    .map((row) => `${row.key} ${row.maxConnections === undefined ? 'unbounded' : row.maxConnections}`)
    .join(' + ');
  return {
    scope,
    connections,
    breakdown: breakdown === '' ? 'no functions' : breakdown,
    limitName,
    limit,
    headroom,
    available,
    unbounded,
    ok: unbounded.length === 0 && connections <= available,
  };
}

function sumBounded(rows: readonly { readonly maxConnections?: number | undefined }[]): number {
  return rows.reduce((total, row) => total + (row.maxConnections ?? 0), 0);
}

function invalidNumbers(input: BudgetInput): string[] {
  const problems: string[] = [];
  const wholeNumber = (value: number) => Number.isSafeInteger(value) && value >= 0;
  if (!wholeNumber(input.dbMaxUserConnections) || input.dbMaxUserConnections === 0) {
    problems.push(`dbMaxUserConnections must be a positive whole number, not ${input.dbMaxUserConnections}`);
  }
  if (!wholeNumber(input.headroom)) {
    problems.push(`dbConnectionHeadroom must be a whole number ≥ 0, not ${input.headroom}`);
  }
  if (
    input.dbMaxConnections !== undefined &&
    (!wholeNumber(input.dbMaxConnections) || input.dbMaxConnections === 0)
  ) {
    problems.push(`dbMaxConnections must be a positive whole number, not ${input.dbMaxConnections}`);
  }
  for (const fn of input.functions) {
    if (fn.reservedConcurrency !== undefined && !wholeNumber(fn.reservedConcurrency)) {
      problems.push(
        `${fn.key}: reservedConcurrency must be a whole number ≥ 0, not ${fn.reservedConcurrency}`,
      );
    }
  }
  return problems;
}
