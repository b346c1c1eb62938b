// The operators' text report, in the original monitor's layout (domain §5) with its counts corrected
// and current advice, and the CLI's exit status. Pure: the clock's time zone is an argument.

import type { KillOutcome } from './kill-sessions.js';
import type { UsageLevel } from './policy.js';
import type { MonitorReport } from './run-monitor.js';

export const EXIT_STATUS: Readonly<Record<UsageLevel | 'error', number>> = {
  healthy: 0,
  error: 1,
  caution: 2,
  warning: 3,
};

const RULE = '===========================================';

export function formatReport(report: MonitorReport, timeZone: string): string {
  const lines: string[] = [
    RULE,
    '  Database Connection Monitor',
    `  ${formatDateTime(new Date(report.checkedAt), timeZone)}`,
    RULE,
    '',
    `Total Connections: ${report.totalSessions} (this monitor's own session not counted)`,
    `Your User Connections: ${yourConnections(report)}`,
    '',
    'Connection Breakdown:',
    `  Active:   ${sum(report, 'active')}`,
    `  Sleeping: ${sum(report, 'sleeping')}`,
    `  Idle (>${report.idleThresholdSeconds}s): ${sum(report, 'idle')}`,
    `  Idle in transaction: ${sum(report, 'idleInTransaction')}`,
    '',
    ...(report.transactionsVisible
      ? []
      : [
          `Note: without PROCESS open transactions are not visible; idle sessions are killed only after ${report.thresholds.maxIdleInTransactionSeconds}s`,
          '',
        ]),
    ...idleSection(report),
    '',
    ...settingsSection(report),
    '',
    ...queueSection(report),
    ...adviceSection(report),
  ];
  return `${lines.join('\n')}\n`;
}

/** dd/mm/YYYY HH:MM:SS in the given IANA time zone, as the original printed it. */
export function formatDateTime(date: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    day: '2-digit',
    month: '2-digit',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(date);
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? '';
  return `${part('day')}/${part('month')}/${part('year')} ${part('hour')}:${part('minute')}:${part('second')}`;
}

type CountField = 'total' | 'active' | 'sleeping' | 'idle' | 'idleInTransaction';

function sum(report: MonitorReport, field: CountField): number {
  return report.users.reduce((total, usage) => total + usage[field], 0);
}

function yourConnections(report: MonitorReport): string {
  const perUser = report.users.map((usage) => `${usage.user}: ${usage.total}`).join(', ');
  return report.users.length === 1
    ? `${sum(report, 'total')} (${report.users[0]?.user ?? ''})`
    : `${sum(report, 'total')} (${perUser})`;
}

function idleSection(report: MonitorReport): string[] {
  const threshold = `threshold: ${report.idleThresholdSeconds} seconds${
    report.idleThresholdSeconds < report.thresholds.maxIdleSeconds
      ? ', emergency threshold at warning level'
      : ''
  }`;
  const killLines = report.kills.map(killLine);
  if (report.idleSessions.length === 0 && killLines.length === 0) {
    return [`✓ No idle connections found (${threshold})`];
  }
  const lines = [
    `Found ${report.idleSessions.length} idle connection(s) (${threshold}):`,
    '',
    `  ${pad('ID', 10)}${pad('User', 18)}${pad('DB', 18)}${pad('Time(s)', 10)}Info`,
    ...report.idleSessions.map(
      (session) =>
        `  ${pad(String(session.id), 10)}${pad(session.user, 18)}${pad(session.db ?? '-', 18)}${pad(
          String(session.idleSeconds),
          10,
        )}${session.info ?? '-'}${
          session.inTransaction
            ? ` (open transaction: killed only after ${report.thresholds.maxIdleInTransactionSeconds}s)`
            : ''
        }`,
    ),
  ];
  if (killLines.length > 0) lines.push('', ...killLines);
  const count = report.kills.length;
  lines.push(
    '',
    report.dryRun
      ? `Dry run: would kill ${count} idle connection(s); run with --kill-idle to kill them`
      : `Killed ${report.killedSessions} idle connection(s)`,
  );
  return lines;
}

function killLine(kill: KillOutcome): string {
  const idle = `(idle for ${kill.idleSeconds}s)`;
  switch (kill.result) {
    case 'killed':
      return `Killed connection ${kill.id} ${idle}${kill.method === 'rds_kill' ? ' with mysql.rds_kill' : ''}`;
    case 'would-kill':
      return `Would kill connection ${kill.id} ${idle}`;
    case 'gone':
      return `Connection ${kill.id} had already gone ${idle}`;
    case 'spared':
      return `Spared connection ${kill.id}: it ran a statement since the snapshot`;
    case 'failed':
      return `Could not kill connection ${kill.id} ${idle}: ${kill.errorCode ?? `errno ${kill.errno ?? '?'}`}`;
  }
}

function settingsSection(report: MonitorReport): string[] {
  const single = report.users.length === 1;
  const lines = [
    'Database Settings:',
    `  max_connections: ${report.server.maxConnections}`,
    `  max_user_connections (global): ${limitText(report.server.maxUserConnections)}`,
  ];
  for (const usage of report.users) {
    const label = single ? '' : ` (${usage.user})`;
    lines.push(
      `  max_user_connections (${usage.user}): ${
        usage.accountFound ? limitText(usage.accountLimit) : 'no such account'
      }`,
      `  Effective limit${label}: ${usage.effectiveLimit}`,
      `  Current usage${label}: ${usage.total} / ${usage.effectiveLimit} (${usage.usagePercent.toFixed(1)}%)`,
    );
  }
  lines.push(`  ${levelLine(report)}`);
  return lines;
}

function limitText(limit: number): string {
  return limit === 0 ? '0 (no limit of its own)' : String(limit);
}

function levelLine(report: MonitorReport): string {
  switch (report.level) {
    case 'healthy':
      return '✓ Connection usage is healthy';
    case 'caution':
      return `⚠ CAUTION: Connection usage is above ${report.thresholds.usageCautionPercent}%`;
    case 'warning':
      return `✗ WARNING: Connection usage is above ${report.thresholds.usageWarningPercent}%`;
  }
}

function queueSection(report: MonitorReport): string[] {
  const queue = report.importQueue;
  if (queue === null) {
    return [`Import Queue: not read (${report.importQueueSkipped ?? 'unknown'})`];
  }
  return [
    'Import Queue:',
    `  Queued: ${queue.queued}`,
    `  Processing: ${queue.processing} (stuck: ${queue.stuck})`,
    `  Failure rate (24 h): ${queue.failureRatePercent.toFixed(1)}% (${queue.failedLast24h} of ${queue.finishedLast24h} finished)`,
  ];
}

function adviceSection(report: MonitorReport): string[] {
  const advice: string[] = [];
  if (report.level !== 'healthy') {
    const limits = report.users.map((usage) => `${usage.user}: ${usage.effectiveLimit}`).join(', ');
    advice.push(
      `Keep the sum of the functions' reserved concurrency below the connection budget (effective limit ${limits}); each invocation holds one connection.`,
      'Look for timed-out or failing invocations (Lambda Errors and Duration): a frozen environment keeps its session until wait_timeout ends it.',
      'If the load really needs more connections than the budget, put RDS Proxy in front of the database instead of raising the limit.',
    );
  }
  if (report.dryRun && report.kills.length > 0) {
    advice.push('Run with --kill-idle to end the idle sessions listed above.');
  }
  if (!report.transactionsVisible) {
    advice.push('Grant the monitor user PROCESS: it then sees every session and their open transactions.');
  }
  if (report.killFailures > 0) {
    advice.push(
      'Grant the monitor user CONNECTION ADMIN (MariaDB) or CONNECTION_ADMIN (MySQL 8); on Amazon RDS grant EXECUTE on mysql.rds_kill.',
    );
  }
  if (report.importQueue === null && report.importQueueSkipped !== 'not configured') {
    advice.push(
      'Check that DB_NAME names the app’s database, and grant the monitor user SELECT on its import_jobs to get the import queue numbers.',
    );
  }
  return advice.length === 0 ? [] : ['', 'Advice:', ...advice.map((line) => `  - ${line}`)];
}

function pad(text: string, width: number): string {
  return text.length >= width ? `${text.slice(0, width - 1)} ` : text.padEnd(width);
}
