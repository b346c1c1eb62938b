// The operators' CLI (`npm run monitor -- [--kill-idle] [--max-idle=N] [--json]`): its arguments as
// environment overrides (so loadConfig validates them), and its local login fallback. Pure.

import type { Env } from '../config.js';
import { AppError } from '../errors.js';

export const MONITOR_USAGE = `Usage: npm run monitor -- [--kill-idle] [--max-idle=N] [--json]

  --kill-idle    kill the idle sessions the policy allows (default: KILL_IDLE, else a dry run)
  --max-idle=N   idle threshold in seconds (default: MAX_IDLE_SECONDS, else 300)
  --json         print the report as JSON instead of text

Logs in with MONITOR_DB_SECRET_ID or MONITOR_DB_USER/MONITOR_DB_PASSWORD; without either, with the
app's own DB_USER/DB_PASSWORD (or DB_SECRET_ID), which cannot connect once that user is at its limit.
Exit status: 0 healthy, 1 error, 2 caution, 3 warning.`;

export class UsageError extends AppError {}

export type MonitorCliOptions = {
  readonly json: boolean;
  readonly help: boolean;
  /** Variables the flags set, laid over the environment before loadConfig. */
  readonly envOverrides: Readonly<Record<string, string>>;
};

export function parseMonitorArgs(args: readonly string[]): MonitorCliOptions {
  let json = false;
  let help = false;
  const envOverrides: Record<string, string> = {};
  for (const arg of args) {
    if (arg === '--json') json = true;
    else if (arg === '--help' || arg === '-h') help = true;
    else if (arg === '--kill-idle') envOverrides.KILL_IDLE = 'true';
    else if (arg.startsWith('--max-idle=')) envOverrides.MAX_IDLE_SECONDS = arg.slice('--max-idle='.length);
    else throw new UsageError(`Unknown argument "${arg.slice(0, 40)}"`);
  }
  return { json, help, envOverrides };
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
