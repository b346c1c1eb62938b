// `npm run monitor -- [--kill-idle] [--max-idle=N] [--json]`: the monitor's run from a terminal, the
// same code as the Lambda, printed in the original report's layout. Exit status: 0 healthy, 1 error,
// 2 caution, 3 warning. Audit lines (kills, warnings) go to stderr as JSON; the report to stdout.

import { loadConfig } from '../lib/config.js';
import { withConnection } from '../lib/db.js';
import { ConfigError } from '../lib/errors.js';
import {
  MONITOR_USAGE,
  monitorCliEnv,
  parseMonitorArgs,
  UsageError,
  usesAppLogin,
} from '../lib/monitor/cli-options.js';
import type { AuditLog } from '../lib/monitor/kill-sessions.js';
import { EXIT_STATUS, formatReport } from '../lib/monitor/report.js';
import { monitorInputFrom, runMonitor } from '../lib/monitor/run-monitor.js';
import { resolveTargetUsers } from '../lib/monitor/target-users.js';
import { sharedSecretCache } from '../lib/secrets.js';
import { monitorEnv } from './monitor-env.js';

const stderrAudit: AuditLog = {
  info: (message, fields) =>
    process.stderr.write(`${JSON.stringify({ level: 'INFO', message, ...fields })}\n`),
  warn: (message, fields) =>
    process.stderr.write(`${JSON.stringify({ level: 'WARN', message, ...fields })}\n`),
};

try {
  const options = parseMonitorArgs(process.argv.slice(2));
  if (options.help) {
    process.stdout.write(`${MONITOR_USAGE}\n`);
  } else {
    // No settings at all: the local stack's (docs/operations.md#npm-run-monitor).
    const env = await monitorEnv(process.env);
    const monitor = loadConfig(monitorCliEnv(env, options)).monitor;
    if (monitor === undefined)
      throw new ConfigError('MONITOR_DB_USER', 'set MONITOR_DB_USER (or DB_USER) to log in');
    if (usesAppLogin(env)) {
      process.stderr.write(
        'Note: no MONITOR_DB_USER; logging in as the app user, which fails once it is at its limit.\n',
      );
    }
    const secrets = sharedSecretCache(monitor.db.secretCacheTtlMs);
    const targetUsers = await resolveTargetUsers(monitor.targetUsers, secrets);
    const report = await withConnection(
      monitor.db,
      (db) => runMonitor(db, monitorInputFrom(monitor, targetUsers, stderrAudit)),
      { secrets },
    );
    const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    process.stdout.write(
      options.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report, timeZone),
    );
    process.exitCode = EXIT_STATUS[report.level];
  }
} catch (error) {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  process.stderr.write(`${message}\n${error instanceof UsageError ? `\n${MONITOR_USAGE}\n` : ''}`);
  process.exitCode = EXIT_STATUS.error;
}
