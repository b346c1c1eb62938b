// `npm run budget [-- --stage X] [-- --param k=v …]`: resolves the stage's serverless.yml offline with
// `osls print` (the framework's own resolution, --param overrides included), adds up the connections its
// functions can hold at once, prints the table, and exits 1 when the stage is overcommitted.

import { execFile } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import {
  type BudgetCheck,
  type BudgetFunction,
  type BudgetProxy,
  type BudgetResult,
  checkConnectionBudget,
  type DbUser,
  PROXY_POOL_KEY,
} from '../lib/budget.js';
import { OSLS, oslsEnv } from './osls.js';

const PROJECT_DIR = fileURLToPath(new URL('..', import.meta.url));
/** The options that change how serverless.yml resolves; anything else (--package, --verbose) is not print's. */
const RESOLUTION_OPTIONS = new Set(['--stage', '-s', '--region', '-r', '--param', '--config', '-c']);

export type Output = { log(line: string): void; error(line: string): void };

type ResolvedService = {
  readonly stage: string;
  readonly functions: Readonly<Record<string, unknown>>;
  readonly budget: Readonly<Record<string, unknown>>;
};

export class BudgetConfigError extends Error {}

/** Runs the check for the stage the arguments name; true when the budget holds. */
export async function checkStageBudget(
  args: readonly string[],
  output: Output = { log: console.log, error: console.error },
): Promise<boolean> {
  let service: ResolvedService;
  let functions: BudgetFunction[];
  let limits: Limits;
  try {
    service = await resolveService(resolutionArgs(args));
    ({ functions, limits } = budgetInput(service));
  } catch (error) {
    output.error(`Connection budget: ${error instanceof Error ? error.message : String(error)}`);
    return false;
  }
  const result = checkConnectionBudget({ stage: service.stage, functions, ...limits });
  for (const line of formatBudget(service, result)) output.log(line);
  if (result.ok) return true;
  output.error(`\nConnection budget exceeded for stage ${service.stage}:`);
  for (const problem of result.problems) output.error(`  - ${problem}`);
  for (const failed of result.checks.filter((check) => !check.ok))
    output.error(
      remedy(
        failed,
        result.rows.some((row) => row.via === 'pool'),
      ),
    );
  return false;
}

function remedy(failed: BudgetCheck, proxied: boolean): string {
  if (failed.unbounded.length > 0 && failed.connections <= failed.available) {
    return `Give ${failed.unbounded.join(', ')} a reservedConcurrency in serverless.yml.`;
  }
  const advice =
    failed.scope === 'app user'
      ? "Lower the app-user functions' reservedConcurrency (params apiReservedConcurrency, " +
        "processImportsReservedConcurrency, s3UploadArrivedReservedConcurrency), or raise the app user's limit (ALTER USER … WITH " +
        'MAX_USER_CONNECTIONS n) and the stage param dbMaxUserConnections with it.'
      : "Lower the functions' reservedConcurrency, or raise the server's max_connections (on RDS: the " +
        'parameter group) and the stage param dbMaxConnections with it.';
  // The proxy's pool logs in as the app user and counts under both limits.
  return proxied ? `${advice} Or lower dbProxyMaxConnectionsPercent, which sizes the proxy's pool.` : advice;
}

/** Keeps `--stage X`, `--stage=X`, `--param k=v`, … from the arguments meant for osls package/deploy. */
export function resolutionArgs(args: readonly string[]): string[] {
  const kept: string[] = [];
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] ?? '';
    const name = arg.split('=', 1)[0] ?? '';
    if (!RESOLUTION_OPTIONS.has(name)) continue;
    if (arg.includes('=')) {
      kept.push(arg);
    } else {
      const value = args[index + 1];
      if (value === undefined) throw new BudgetConfigError(`${arg} needs a value`);
      kept.push(arg, value);
      index++;
    }
  }
  return kept;
}

async function resolveService(args: readonly string[]): Promise<ResolvedService> {
  const env = oslsEnv();
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)(OSLS, ['print', '--format', 'json', ...args], {
      cwd: PROJECT_DIR,
      env,
      maxBuffer: 32 * 1024 * 1024,
      timeout: 120_000,
    }));
  } catch (error) {
    const stderr =
      typeof error === 'object' && error !== null && 'stderr' in error ? String(error.stderr) : '';
    throw new BudgetConfigError(`osls print failed: ${stderr.trim() || String(error)}`);
  }
  const printed: unknown = JSON.parse(stdout);
  const provider = field(printed, 'provider');
  const stage = field(provider, 'stage');
  const budget = field(field(printed, 'custom'), 'connectionBudget');
  if (typeof stage !== 'string') throw new BudgetConfigError('osls print gave no provider.stage');
  if (!isRecord(budget)) {
    throw new BudgetConfigError('serverless.yml has no custom.connectionBudget block');
  }
  const functions = field(printed, 'functions');
  return { stage, functions: isRecord(functions) ? functions : {}, budget };
}

type Limits = {
  dbMaxUserConnections: number;
  headroom: number;
  dbMaxConnections: number | undefined;
  proxy: BudgetProxy | undefined;
};

function budgetInput(service: ResolvedService): { functions: BudgetFunction[]; limits: Limits } {
  const dbUsers = service.budget.dbUsers;
  const functions = Object.entries(service.functions).map(([key, fn]): BudgetFunction => {
    const dbUser = isRecord(dbUsers) ? dbUsers[key] : undefined;
    if (dbUser !== 'app' && dbUser !== 'monitor') {
      throw new BudgetConfigError(
        `function ${key} is not in custom.connectionBudget.dbUsers: say which database user it logs in as (app or monitor)`,
      );
    }
    return {
      key,
      dbUser: dbUser satisfies DbUser,
      reservedConcurrency: count(field(fn, 'reservedConcurrency'), `functions.${key}.reservedConcurrency`),
      timeoutSeconds: count(field(fn, 'timeout'), `functions.${key}.timeout`),
    };
  });
  const dbMaxUserConnections = count(service.budget.dbMaxUserConnections, 'dbMaxUserConnections');
  const headroom = count(service.budget.dbConnectionHeadroom, 'dbConnectionHeadroom');
  if (dbMaxUserConnections === undefined)
    throw new BudgetConfigError('the dbMaxUserConnections param is not set');
  if (headroom === undefined) throw new BudgetConfigError('the dbConnectionHeadroom param is not set');
  return {
    functions,
    limits: {
      dbMaxUserConnections,
      headroom,
      dbMaxConnections: count(service.budget.dbMaxConnections, 'dbMaxConnections'),
      proxy: proxyInput(service.budget),
    },
  };
}

/** custom.connectionBudget's proxy settings when dbProxy is true (osls prints the param as given). */
function proxyInput(budget: Readonly<Record<string, unknown>>): BudgetProxy | undefined {
  if (String(budget.dbProxy) !== 'true') return undefined;
  const maxConnectionsPercent = count(budget.dbProxyMaxConnectionsPercent, 'dbProxyMaxConnectionsPercent');
  const borrowTimeoutSeconds = count(budget.dbProxyBorrowTimeoutSeconds, 'dbProxyBorrowTimeoutSeconds');
  if (maxConnectionsPercent === undefined || borrowTimeoutSeconds === undefined) {
    throw new BudgetConfigError(
      'dbProxy is true: set dbProxyMaxConnectionsPercent and dbProxyBorrowTimeoutSeconds',
    );
  }
  const functions = budget.dbProxyFunctions;
  if (!Array.isArray(functions) || functions.some((key) => typeof key !== 'string')) {
    throw new BudgetConfigError(
      'custom.connectionBudget.dbProxyFunctions must list the functions behind the proxy',
    );
  }
  return { maxConnectionsPercent, borrowTimeoutSeconds, functions: functions.map(String) };
}

/** A whole number from the printed config (numbers may come back as strings); undefined when unset. */
function count(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const parsed =
    typeof value === 'number' ? value : typeof value === 'string' ? Number(value.trim()) : Number.NaN;
  if (!Number.isSafeInteger(parsed) || parsed < 0) {
    throw new BudgetConfigError(`${name} is ${JSON.stringify(value)}, not a whole number`);
  }
  return parsed;
}

export function formatBudget(service: ResolvedService, result: BudgetResult): string[] {
  const header = ['function', 'trigger', 'db user', 'reserved concurrency', 'max connections'];
  const rows = result.rows.map((row) => [
    row.key,
    row.key === PROXY_POOL_KEY && row.via === 'pool'
      ? 'the proxy pool (MaxConnectionsPercent of dbMaxConnections)'
      : triggerOf(service.functions[row.key]),
    row.dbUser,
    row.via === 'pool'
      ? '-'
      : row.reservedConcurrency === undefined
        ? 'none'
        : String(row.reservedConcurrency),
    row.via === 'proxy'
      ? '0 (via proxy)'
      : row.maxConnections === undefined
        ? 'unbounded'
        : String(row.maxConnections),
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const numeric = new Set([3, 4]);
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) =>
        numeric.has(column) ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0),
      )
      .join('  ')
      .trimEnd();
  const lines = [`Connection budget for stage ${service.stage} (serverless.yml as osls resolves it)`, ''];
  lines.push(line(header), ...rows.map(line), '');
  for (const check of result.checks) {
    lines.push(
      `${check.scope.padEnd(9)}  ${check.connections} (${check.breakdown}) ${check.ok ? '≤' : '>'} ` +
        `${check.limitName} ${check.limit} − headroom ${check.headroom} = ${check.available}  ` +
        (check.ok ? 'ok' : 'OVERCOMMITTED'),
    );
  }
  if (!result.checks.some((check) => check.scope === 'all users')) {
    lines.push(
      `all users  ${result.totals.allConnections} (app ${result.totals.appUserConnections} + monitor ` +
        `${result.totals.monitorConnections}); dbMaxConnections not set: not checked`,
    );
  }
  return lines;
}

/** `HTTP API GET /api/health, ANY /api/{proxy+}` or `schedule rate(1 minute), cron(…)`. */
function triggerOf(fn: unknown): string {
  const groups = new Map<string, string[]>();
  const printed = field(fn, 'events');
  const events: unknown[] = Array.isArray(printed) ? printed : [];
  for (const event of events) {
    if (!isRecord(event)) continue;
    for (const [type, settings] of Object.entries(event)) {
      const label = type === 'httpApi' ? 'HTTP API' : type;
      const detail =
        type === 'httpApi'
          ? `${String(field(settings, 'method') ?? 'ANY')} ${String(field(settings, 'path') ?? '*')}`
          : type === 'schedule'
            ? [field(settings, 'rate')].flat().map(String).join(', ')
            : '';
      groups.set(label, [...(groups.get(label) ?? []), ...(detail === '' ? [] : [detail])]);
    }
  }
  if (groups.size === 0) return 'none (invoked directly)';
  return [...groups].map(([label, details]) => [label, details.join(', ')].join(' ').trim()).join('; ');
}

function field(value: unknown, name: string): unknown {
  return isRecord(value) ? value[name] : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = (await checkStageBudget(process.argv.slice(2))) ? 0 : 1;
}
