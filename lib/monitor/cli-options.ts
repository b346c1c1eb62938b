// The operators' CLI (`npm run monitor -- [--kill-idle] [--max-idle=N] [--json] …`): its arguments as
// environment overrides (so loadConfig validates them), its local login fallback, and the settings of
// an offline evaluation (--from-snapshot), which needs no login at all. Pure.

import type { Env } from '../config.js';
import { AppError } from '../errors.js';

export const MONITOR_USAGE = `Usage: npm run monitor -- [--kill-idle] [--max-idle=N] [--json] [options]

  --kill-idle            kill what the policy allows (default: KILL_IDLE, else a dry run)
  --max-idle=N           idle threshold in seconds (default: MAX_IDLE_SECONDS, else 300)
  --max-busy=N           stop target-user statements running longer (KILL QUERY; default: MAX_BUSY_SECONDS, else off)
  --max-kills=N          kills per run, longest idle first (default: MAX_KILLS_PER_RUN, else 50)
  --never-kill=LIST      program:NAME and host:PATTERN entries, comma-separated (default: MONITOR_NEVER_KILL)
  --snapshot-out=FILE    also save what the monitor read (processlist, limits, transactions) as JSON
  --from-snapshot=FILE   evaluate the policy on a saved snapshot and print what it would kill and why;
                         touches no database (MONITOR_TARGET_USERS, if set, replaces the saved targets)
  --json                 print the report as JSON instead of text

Logs in with MONITOR_DB_SECRET_ID or MONITOR_DB_USER/MONITOR_DB_PASSWORD; without either, with the
app's own DB_USER/DB_PASSWORD (or DB_SECRET_ID), which cannot connect once that user is at its limit.
Exit status: 0 healthy, 1 error, 2 caution, 3 warning.`;

export class UsageError extends AppError {}

export type MonitorCliOptions = {
  readonly json: boolean;
  readonly help: boolean;
  /** --snapshot-out: where a live run saves what it read. */
  readonly snapshotOut: string | undefined;
  /** --from-snapshot: evaluate this saved snapshot offline instead of connecting. */
  readonly fromSnapshot: string | undefined;
  /** Variables the flags set, laid over the environment before loadConfig. */
  readonly envOverrides: Readonly<Record<string, string>>;
};

export function parseMonitorArgs(args: readonly string[]): MonitorCliOptions {
  let json = false;
  let help = false;
  let snapshotOut: string | undefined;
  let fromSnapshot: string | undefined;
  const envOverrides: Record<string, string> = {};
  for (const arg of args) {
    const [flag, ...rest] = arg.split('=');
    const value = rest.join('=');
    if (arg === '--json') json = true;
    else if (arg === '--help' || arg === '-h') help = true;
    else if (arg === '--kill-idle') envOverrides.KILL_IDLE = 'true';
    else if (flag !== undefined && flag in FLAG_VARIABLES && rest.length > 0) {
      envOverrides[FLAG_VARIABLES[flag as keyof typeof FLAG_VARIABLES]] = value;
    } else if (flag === '--snapshot-out' && value !== '') snapshotOut = value;
    else if (flag === '--from-snapshot' && value !== '') fromSnapshot = value;
    else throw new UsageError(`Unknown argument "${arg.slice(0, 40)}"`);
  }
  if (fromSnapshot !== undefined && (snapshotOut !== undefined || envOverrides.KILL_IDLE === 'true')) {
    throw new UsageError('--from-snapshot evaluates offline: it kills nothing and saves nothing');
  }
  return { json, help, snapshotOut, fromSnapshot, envOverrides };
}

/** Flags that set a monitor variable, validated by loadConfig like the variable itself. */
const FLAG_VARIABLES = {
  '--max-idle': 'MAX_IDLE_SECONDS',
  '--max-busy': 'MAX_BUSY_SECONDS',
  '--max-kills': 'MAX_KILLS_PER_RUN',
  '--never-kill': 'MONITOR_NEVER_KILL',
} as const;

/**
 * The environment of an offline evaluation: the policy's variables as set, and placeholders for the
 * login and schema loadConfig insists on (nothing connects, so nothing reads them).
 */
export function offlineCliEnv(env: Env, options: MonitorCliOptions): Env {
  return {
    ...env,
    DB_NAME: isBlank(env.DB_NAME) ? 'offline' : env.DB_NAME,
    DB_SECRET_ID: undefined,
    DB_USER: 'offline',
    MONITOR_DB_SECRET_ID: undefined,
    MONITOR_DB_USER: 'offline',
    DB_TLS: undefined,
    DB_TLS_CA_FILE: undefined,
    ...options.envOverrides,
  };
}

/** Whether the CLI logs in as the app user because no monitor login is configured. */
export function usesAppLogin(env: Env): boolean {
  return isBlank(env.MONITOR_DB_SECRET_ID) && isBlank(env.MONITOR_DB_USER);
}

/**
 * The environment the CLI loads its config from: the flags' overrides, and, without a monitor login,
 * the app's own login as the monitor's (a local convenience; the Lambda never does this).
 */
export function monitorCliEnv(env: Env, options: MonitorCliOptions): Env {
  const fallback: Record<string, string | undefined> = usesAppLogin(env)
    ? {
        MONITOR_DB_SECRET_ID: env.DB_SECRET_ID,
        MONITOR_DB_USER: env.DB_USER,
        MONITOR_DB_PASSWORD: env.DB_PASSWORD,
      }
    : {};
  return { ...env, ...fallback, ...options.envOverrides };
}

function isBlank(value: string | undefined): boolean {
  return value === undefined || value.trim() === '';
}

/** Whose sessions an offline evaluation judges: MONITOR_TARGET_USERS when set, else the snapshot's own. */
export function offlineTargetUsers(env: Env, saved: readonly string[]): readonly string[] {
  const listed = (env.MONITOR_TARGET_USERS ?? '')
    .split(',')
    .map((user) => user.trim())
    .filter((user) => user !== '');
  return listed.length > 0 ? listed : saved;
}
