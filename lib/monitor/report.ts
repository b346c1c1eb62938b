// The operators' text report, in the layout operators already grep (banner, connection breakdown,
// idle list, settings) without counting its own session, and the CLI's exit status. Pure: the clock's time zone is an argument.

import type { CounterDelta } from './counters.js';
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
    '',
    ...countersSection(report),
    ...adviceSection(report),
  ];
  return `${lines.join('\n')}\n`;
}

/** dd/mm/YYYY HH:MM:SS in the given IANA time zone, the report's timestamp format. */
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
  const would = (action: KillOutcome['action']) =>
    report.kills.filter((kill) => kill.result === 'would-kill' && kill.action === action).length;
  const wouldStop = would('kill-query');
  const killed = report.killedSessions - report.stoppedStatements;
  lines.push(
    '',
    report.dryRun
      ? `Dry run: would kill ${would('kill-connection')} idle connection(s)${
          wouldStop > 0 ? ` and stop ${wouldStop} runaway statement(s)` : ''
        }; run with --kill-idle to kill them`
      : `Killed ${killed} idle connection(s)${
          report.stoppedStatements > 0 ? `, stopped ${report.stoppedStatements} runaway statement(s)` : ''
        }`,
  );
  if (report.killsLeft > 0) {
    lines.push(`Left ${report.killsLeft} for the next run (MAX_KILLS_PER_RUN ${report.maxKillsPerRun})`);
  }
  return lines;
}

function killLine(kill: KillOutcome): string {
  const query = kill.action === 'kill-query';
  const idle = query ? `(statement running for ${kill.idleSeconds}s)` : `(idle for ${kill.idleSeconds}s)`;
  const what = query ? `the statement of connection ${kill.id}` : `connection ${kill.id}`;
  switch (kill.result) {
    case 'killed':
      return `${query ? 'Stopped' : 'Killed'} ${what} ${idle}${kill.method === 'rds_kill' ? ' with mysql.rds_kill' : ''}`;
    case 'would-kill':
      return `Would ${query ? 'stop' : 'kill'} ${what} ${idle}`;
    case 'gone':
      return `Connection ${kill.id} had already gone ${idle}`;
    case 'spared':
      return query
        ? `Spared connection ${kill.id}: its statement ended since the snapshot`
        : `Spared connection ${kill.id}: it ran a statement since the snapshot`;
    case 'failed':
      return `Could not ${query ? 'stop' : 'kill'} ${what} ${idle}: ${kill.errorCode ?? `errno ${kill.errno ?? '?'}`}`;
    case 'left':
      return `Left ${what} ${idle} for the next run: over MAX_KILLS_PER_RUN`;
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
    `  Failure rate (24 h): ${queue.failureRatePercent.toFixed(1)}% (${queue.systemFailedLast24h} system failures of ${queue.finishedLast24h} finished; ${queue.failedLast24h} failed in all)`,
  ];
}

/** Every target user's session and what the policy decided, with the rule: the offline evaluation's answer. */
export function formatDecisions(report: MonitorReport): string {
  const lines = [
    `Decisions (${report.decisions.length} target-user session(s); idle threshold ${report.idleThresholdSeconds}s, max busy ${
      report.maxBusySeconds === null ? 'off' : `${report.maxBusySeconds}s`
    }, at most ${report.maxKillsPerRun} per run):`,
    `  ${pad('ID', 10)}${pad('User', 16)}${pad('Host', 22)}${pad('Program', 28)}${pad('Command', 9)}${pad('Time(s)', 9)}Decision`,
  ];
  const left = new Set(report.kills.filter((kill) => kill.result === 'left').map((kill) => kill.id));
  for (const entry of report.decisions) {
    const { decision } = entry;
    const verdict = !decision.kill
      ? `keep: ${decision.skip}`
      : `${left.has(entry.id) ? 'left (over the cap): ' : ''}${
          decision.reason === 'runaway-statement' ? 'KILL QUERY' : 'KILL'
        }: ${decision.reason} (> ${decision.thresholdSeconds}s)`;
    lines.push(
      `  ${pad(String(entry.id), 10)}${pad(entry.user, 16)}${pad(entry.host, 22)}${pad(entry.programName ?? '-', 28)}${pad(
        entry.command,
        9,
      )}${pad(String(entry.timeSeconds), 9)}${verdict}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function countersSection(report: MonitorReport): string[] {
  const counters = report.counters;
  if (counters === null) return [`Server Counters: not read (${report.countersNote ?? 'unknown'})`];
  const moved = (entry: CounterDelta) =>
    entry.delta === null
      ? `${entry.value} (no earlier reading: ${entry.basis})`
      : `${entry.value} (+${entry.delta} ${entry.basis === 'since-restart' ? 'since the server restarted' : 'since the last run'})`;
  return [
    'Server Counters (since the monitor’s last scheduled run):',
    `  Aborted_connects: ${moved(counters.abortedConnects)}`,
    `  Connection_errors_max_connections: ${moved(counters.connectionErrorsMaxConnections)}`,
    `  Max_used_connections: ${counters.maxUsedConnections} of max_connections ${report.server.maxConnections} (peak since the server started)`,
    ...(counters.userConnections === null
      ? ['  Connections per user: not available (performance_schema.accounts off or closed)']
      : counters.userConnections.map((entry) => `  Connections accepted (${entry.user}): ${moved(entry)}`)),
    ...(report.countersNote === null ? [] : [`  Note: ${report.countersNote}`]),
  ];
}

function adviceSection(report: MonitorReport): string[] {
  const advice: string[] = [];
  if (
    report.decisions.some(
      (entry) => !entry.decision.kill && entry.decision.skip === 'never-kill-unverifiable',
    )
  ) {
    advice.push(
      'MONITOR_NEVER_KILL names programs but program_name is not visible: no target session was killed. Turn performance_schema on (and let the monitor read performance_schema.session_connect_attrs), or list host patterns only.',
    );
  }
  if (report.killsLeft > 0) {
    advice.push(
      `${report.killsLeft} kill(s) were left for the next run (MAX_KILLS_PER_RUN ${report.maxKillsPerRun}): something is opening sessions faster than they are used; see the ConnectionRefusals alarm.`,
    );
  }
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
  if (report.countersNote?.startsWith('monitor_counters') === true) {
    advice.push(
      'Run the migrations and grant the monitor user SELECT, INSERT, UPDATE on the app schema’s monitor_counters to get the counter deltas.',
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
