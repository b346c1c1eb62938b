import { describe, expect, it } from 'vitest';
import type { KillOutcome } from '../../../lib/monitor/kill-sessions.js';
import { EXIT_STATUS, formatDateTime, formatReport } from '../../../lib/monitor/report.js';
import type { MonitorReport } from '../../../lib/monitor/run-monitor.js';

const APP_USAGE: MonitorReport['users'][number] = {
  user: 'app',
  accountLimit: 50,
  accountFound: true,
  effectiveLimit: 50,
  total: 3,
  active: 2,
  sleeping: 1,
  idle: 0,
  idleInTransaction: 0,
  usagePercent: 6,
  level: 'healthy',
};

const HEALTHY: MonitorReport = {
  checkedAt: '2025-11-12T11:24:56.000Z',
  level: 'healthy',
  dryRun: true,
  ownSessionId: 9,
  totalSessions: 15,
  server: { maxConnections: 151, maxUserConnections: 0 },
  thresholds: {
    maxIdleSeconds: 300,
    maxIdleInTransactionSeconds: 900,
    emergencyMaxIdleSeconds: 60,
    usageCautionPercent: 60,
    usageWarningPercent: 80,
  },
  transactionsVisible: true,
  programNamesVisible: false,
  sessionSource: 'information_schema',
  idleThresholdSeconds: 300,
  maxBusySeconds: null,
  maxKillsPerRun: 50,
  users: [APP_USAGE],
  idleSessions: [],
  decisions: [],
  kills: [],
  killedSessions: 0,
  stoppedStatements: 0,
  killFailures: 0,
  killsLeft: 0,
  importQueue: {
    queued: 2,
    processing: 1,
    stuck: 0,
    failedLast24h: 3,
    systemFailedLast24h: 1,
    finishedLast24h: 8,
    failureRatePercent: 12.5,
  },
  importQueueSkipped: null,
  counters: {
    serverKey: 'db-1:3306:1',
    uptimeSeconds: 86_400,
    abortedConnects: { name: 'Aborted_connects', value: 120, delta: 4, basis: 'since-last-run' },
    connectionErrorsMaxConnections: {
      name: 'Connection_errors_max_connections',
      value: 0,
      delta: 0,
      basis: 'since-last-run',
    },
    maxUsedConnections: 14,
    userConnections: null,
  },
  countersNote: null,
};

const COUNTER_LINES = [
  'Server Counters (since the monitor’s last scheduled run):',
  '  Aborted_connects: 120 (+4 since the last run)',
  '  Connection_errors_max_connections: 0 (+0 since the last run)',
  '  Max_used_connections: 14 of max_connections 151 (peak since the server started)',
  '  Connections per user: not available (performance_schema.accounts off or closed)',
];

function kill(overrides: Partial<KillOutcome>): KillOutcome {
  return {
    id: 0,
    user: 'app',
    host: '10.0.0.5:40000',
    db: 'eclectyc',
    programName: null,
    idleSeconds: 0,
    inTransaction: false,
    reason: 'idle-emergency',
    action: 'kill-connection',
    thresholdSeconds: 60,
    result: 'killed',
    method: 'kill',
    errno: null,
    errorCode: null,
    ...overrides,
  };
}

describe('formatReport', () => {
  it('prints the report layout for a healthy run, without counting its own session', () => {
    expect(formatReport(HEALTHY, 'Europe/London')).toBe(
      [
        '===========================================',
        '  Database Connection Monitor',
        '  12/11/2025 11:24:56',
        '===========================================',
        '',
        "Total Connections: 15 (this monitor's own session not counted)",
        'Your User Connections: 3 (app)',
        '',
        'Connection Breakdown:',
        '  Active:   2',
        '  Sleeping: 1',
        '  Idle (>300s): 0',
        '  Idle in transaction: 0',
        '',
        '✓ No idle connections found (threshold: 300 seconds)',
        '',
        'Database Settings:',
        '  max_connections: 151',
        '  max_user_connections (global): 0 (no limit of its own)',
        '  max_user_connections (app): 50',
        '  Effective limit: 50',
        '  Current usage: 3 / 50 (6.0%)',
        '  ✓ Connection usage is healthy',
        '',
        'Import Queue:',
        '  Queued: 2',
        '  Processing: 1 (stuck: 0)',
        '  Failure rate (24 h): 12.5% (1 system failures of 8 finished; 3 failed in all)',
        '',
        ...COUNTER_LINES,
        '',
      ].join('\n'),
    );
  });

  it('lists idle sessions, each kill outcome, the emergency threshold and current advice at warning', () => {
    const report: MonitorReport = {
      ...HEALTHY,
      level: 'warning',
      dryRun: false,
      totalSessions: 12,
      idleThresholdSeconds: 60,
      users: [
        {
          user: 'app',
          accountLimit: 10,
          accountFound: true,
          effectiveLimit: 10,
          total: 9,
          active: 1,
          sleeping: 8,
          idle: 4,
          idleInTransaction: 1,
          usagePercent: 90,
          level: 'warning',
        },
      ],
      idleSessions: [
        { id: 41, user: 'app', db: 'eclectyc', idleSeconds: 420, inTransaction: false, info: null },
        { id: 42, user: 'app', db: null, idleSeconds: 75, inTransaction: false, info: null },
        { id: 43, user: 'app', db: 'eclectyc', idleSeconds: 70, inTransaction: true, info: null },
        { id: 44, user: 'app', db: 'eclectyc', idleSeconds: 65, inTransaction: false, info: null },
      ],
      kills: [
        kill({ id: 41, idleSeconds: 420 }),
        kill({ id: 42, idleSeconds: 75, result: 'gone' }),
        kill({ id: 44, idleSeconds: 65, result: 'failed', errno: 1095, errorCode: 'ER_KILL_DENIED_ERROR' }),
      ],
      killedSessions: 1,
      killFailures: 1,
      importQueue: null,
      importQueueSkipped: 'ER_TABLEACCESS_DENIED_ERROR',
    };
    expect(formatReport(report, 'UTC')).toBe(
      [
        '===========================================',
        '  Database Connection Monitor',
        '  12/11/2025 11:24:56',
        '===========================================',
        '',
        "Total Connections: 12 (this monitor's own session not counted)",
        'Your User Connections: 9 (app)',
        '',
        'Connection Breakdown:',
        '  Active:   1',
        '  Sleeping: 8',
        '  Idle (>60s): 4',
        '  Idle in transaction: 1',
        '',
        'Found 4 idle connection(s) (threshold: 60 seconds, emergency threshold at warning level):',
        '',
        '  ID        User              DB                Time(s)   Info',
        '  41        app               eclectyc          420       -',
        '  42        app               -                 75        -',
        '  43        app               eclectyc          70        - (open transaction: killed only after 900s)',
        '  44        app               eclectyc          65        -',
        '',
        'Killed connection 41 (idle for 420s)',
        'Connection 42 had already gone (idle for 75s)',
        'Could not kill connection 44 (idle for 65s): ER_KILL_DENIED_ERROR',
        '',
        'Killed 1 idle connection(s)',
        '',
        'Database Settings:',
        '  max_connections: 151',
        '  max_user_connections (global): 0 (no limit of its own)',
        '  max_user_connections (app): 10',
        '  Effective limit: 10',
        '  Current usage: 9 / 10 (90.0%)',
        '  ✗ WARNING: Connection usage is above 80%',
        '',
        'Import Queue: not read (ER_TABLEACCESS_DENIED_ERROR)',
        '',
        ...COUNTER_LINES,
        '',
        'Advice:',
        "  - Keep the sum of the functions' reserved concurrency below the connection budget (effective limit app: 10); each invocation holds one connection.",
        '  - Look for timed-out or failing invocations (Lambda Errors and Duration): a frozen environment keeps its session until wait_timeout ends it.',
        '  - If the load really needs more connections than the budget, put RDS Proxy in front of the database instead of raising the limit.',
        '  - Grant the monitor user CONNECTION ADMIN (MariaDB) or CONNECTION_ADMIN (MySQL 8); on Amazon RDS grant EXECUTE on mysql.rds_kill.',
        '  - Check that DB_NAME names the app’s database, and grant the monitor user SELECT on its import_jobs to get the import queue numbers.',
        '',
      ].join('\n'),
    );
  });

  it('labels each user and says what a dry run would kill at caution', () => {
    const report: MonitorReport = {
      ...HEALTHY,
      level: 'caution',
      users: [
        { ...APP_USAGE, total: 7, usagePercent: 70, level: 'caution', effectiveLimit: 10 },
        {
          user: 'reports',
          accountLimit: 0,
          accountFound: false,
          effectiveLimit: 151,
          total: 1,
          active: 0,
          sleeping: 1,
          idle: 1,
          idleInTransaction: 0,
          usagePercent: 0.66,
          level: 'healthy',
        },
      ],
      idleSessions: [
        { id: 5, user: 'reports', db: null, idleSeconds: 301, inTransaction: false, info: null },
      ],
      kills: [kill({ id: 5, user: 'reports', idleSeconds: 301, result: 'would-kill', method: null })],
    };
    const text = formatReport(report, 'UTC');
    expect(text).toContain('Your User Connections: 8 (app: 7, reports: 1)\n');
    expect(text).toContain('Would kill connection 5 (idle for 301s)\n');
    expect(text).toContain('Dry run: would kill 1 idle connection(s); run with --kill-idle to kill them\n');
    expect(text).toContain('  max_user_connections (reports): no such account\n');
    expect(text).toContain('  Current usage (app): 7 / 10 (70.0%)\n');
    expect(text).toContain('  Current usage (reports): 1 / 151 (0.7%)\n');
    expect(text).toContain('  ⚠ CAUTION: Connection usage is above 60%\n');
    expect(text).toContain('  - Run with --kill-idle to end the idle sessions listed above.\n');
    expect(text.toLowerCase()).not.toContain('persistent');
  });
});

describe('formatReport without PROCESS', () => {
  it('says that open transactions are not visible and which threshold applies instead', () => {
    const text = formatReport({ ...HEALTHY, transactionsVisible: false }, 'UTC');
    expect(text).toContain(
      '  Idle in transaction: 0\n\nNote: without PROCESS open transactions are not visible; idle sessions are killed only after 900s\n\n✓ No idle',
    );
    expect(text).toContain(
      '  - Grant the monitor user PROCESS: it then sees every session and their open transactions.\n',
    );
  });
});

describe('formatDateTime', () => {
  it('prints dd/mm/YYYY HH:MM:SS in the given time zone (24-hour clock)', () => {
    expect(formatDateTime(new Date('2025-07-01T23:05:09Z'), 'UTC')).toBe('01/07/2025 23:05:09');
    expect(formatDateTime(new Date('2025-07-01T23:05:09Z'), 'Europe/London')).toBe('02/07/2025 00:05:09');
  });
});

describe('EXIT_STATUS', () => {
  it('is 0 healthy, 1 error, 2 caution, 3 warning', () => {
    expect(EXIT_STATUS).toEqual({ healthy: 0, error: 1, caution: 2, warning: 3 });
  });
});
