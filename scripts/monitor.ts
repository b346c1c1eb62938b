// `npm run monitor -- [--kill-idle] [--max-idle=N] [--json] …`: the monitor's run from a terminal, the
// same code as the Lambda, printed as the operators' text report (lib/monitor/report.ts); or, with --from-snapshot, the
// policy evaluated on a saved snapshot with no database. Exit status: 0 healthy, 1 error, 2 caution,
// 3 warning. Audit lines (kills, warnings) go to stderr as JSON; the report to stdout.

import { readFile, writeFile } from 'node:fs/promises';
import { loadConfig } from '../lib/config.js';
import { withConnection } from '../lib/db.js';
import { ConfigError } from '../lib/errors.js';
import {
  MONITOR_USAGE,
  type MonitorCliOptions,
  monitorCliEnv,
  offlineCliEnv,
  offlineTargetUsers,
  parseMonitorArgs,
  UsageError,
  usesAppLogin,
} from '../lib/monitor/cli-options.js';
import type { AuditLog } from '../lib/monitor/kill-sessions.js';
import { EXIT_STATUS, formatDecisions, formatReport } from '../lib/monitor/report.js';
import {
  actOnSnapshot,
  evaluateOffline,
  type MonitorReport,
  monitorInputFrom,
  policyInputFrom,
  readMonitorSnapshot,
} from '../lib/monitor/run-monitor.js';
import { parseSnapshot, serializeSnapshot } from '../lib/monitor/snapshot.js';
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
  } else if (options.fromSnapshot !== undefined) {
    printReport(await evaluateSnapshotFile(options.fromSnapshot, options), options, true);
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
      async (db) => {
        const input = monitorInputFrom(monitor, targetUsers, stderrAudit);
        const snapshot = await readMonitorSnapshot(db, targetUsers, input.now);
        if (options.snapshotOut !== undefined)
          await writeFile(options.snapshotOut, serializeSnapshot(snapshot));
        return actOnSnapshot(db, snapshot, input);
      },
      { secrets },
    );
    printReport(report, options, false);
  }
} catch (error) {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  process.stderr.write(`${message}\n${error instanceof UsageError ? `\n${MONITOR_USAGE}\n` : ''}`);
  process.exitCode = EXIT_STATUS.error;
}

/** The policy (from the environment and flags) applied to a saved snapshot; no login, no connection. */
async function evaluateSnapshotFile(path: string, options: MonitorCliOptions): Promise<MonitorReport> {
  const monitor = loadConfig(offlineCliEnv(process.env, options)).monitor;
  if (monitor === undefined) throw new ConfigError('MONITOR_DB_USER', 'offline evaluation needs no login');
  const saved = parseSnapshot(await readFile(path, 'utf8'));
  const snapshot = { ...saved, targetUsers: offlineTargetUsers(process.env, saved.targetUsers) };
  return evaluateOffline(snapshot, policyInputFrom(monitor), stderrAudit);
}

function printReport(report: MonitorReport, options: MonitorCliOptions, withDecisions: boolean): void {
  const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  process.stdout.write(
    options.json
      ? `${JSON.stringify(report, null, 2)}\n`
      : `${formatReport(report, timeZone)}${withDecisions ? `\n${formatDecisions(report)}` : ''}`,
  );
  process.exitCode = EXIT_STATUS[report.level];
}
