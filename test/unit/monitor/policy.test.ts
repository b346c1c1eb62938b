import { describe, expect, it } from 'vitest';
import {
  decideKill,
  effectiveLimit,
  idleThresholdSeconds,
  type KillPolicy,
  measureUsers,
  NO_NEVER_KILL,
  type SessionRow,
  SYSTEM_COMMANDS,
  selectKillCandidates,
  type Thresholds,
  usageLevel,
  worstLevel,
} from '../../../lib/monitor/policy.js';

const NOW_MS = Date.parse('2026-11-30T12:00:00Z');

const THRESHOLDS: Thresholds = {
  maxIdleSeconds: 300,
  maxIdleInTransactionSeconds: 900,
  emergencyMaxIdleSeconds: 60,
  usageCautionPercent: 60,
  usageWarningPercent: 80,
};

function session(overrides: Partial<SessionRow> = {}): SessionRow {
  return {
    id: 100,
    user: 'app',
    host: '10.0.0.1:51234',
    db: 'eclectyc',
    command: 'Sleep',
    timeSeconds: 301,
    state: '',
    info: null,
    transactionSeconds: null,
    programName: null,
    ...overrides,
  };
}

function policy(overrides: Partial<KillPolicy> = {}): KillPolicy {
  return {
    targetUsers: ['app'],
    level: 'healthy',
    thresholds: THRESHOLDS,
    ownSessionId: 7,
    transactionsVisible: true,
    neverKill: NO_NEVER_KILL,
    programNamesVisible: true,
    maxBusySeconds: null,
    nowMs: NOW_MS,
    ...overrides,
  };
}

describe('effectiveLimit', () => {
  it('uses the account limit when it is the smallest', () => {
    expect(effectiveLimit({ maxConnections: 151, maxUserConnections: 100 }, 50)).toBe(50);
  });

  it('treats a zero account limit as "none of its own" and falls back to the global limit', () => {
    expect(effectiveLimit({ maxConnections: 151, maxUserConnections: 40 }, 0)).toBe(40);
  });

  it('falls back to max_connections when both per-user limits are zero (unlimited)', () => {
    expect(effectiveLimit({ maxConnections: 151, maxUserConnections: 0 }, 0)).toBe(151);
  });

  it('lets a non-zero account limit replace a lower global one, as MySQL and MariaDB do', () => {
    expect(effectiveLimit({ maxConnections: 151, maxUserConnections: 20 }, 50)).toBe(50);
  });

  it('never exceeds max_connections', () => {
    expect(effectiveLimit({ maxConnections: 30, maxUserConnections: 0 }, 50)).toBe(30);
    expect(effectiveLimit({ maxConnections: 30, maxUserConnections: 40 }, 0)).toBe(30);
  });
});

describe('usageLevel', () => {
  it.each([
    [0, 'healthy'],
    [60, 'healthy'],
    [60.1, 'caution'],
    [80, 'caution'],
    [80.1, 'warning'],
    [100, 'warning'],
  ] as const)('%d %% is %s (strictly above a threshold moves up)', (percent, level) => {
    expect(usageLevel(percent, THRESHOLDS)).toBe(level);
  });

  it('picks the worst level among users', () => {
    expect(worstLevel([])).toBe('healthy');
    expect(worstLevel(['healthy', 'warning', 'caution'])).toBe('warning');
    expect(worstLevel(['caution', 'healthy'])).toBe('caution');
  });
});

describe('idleThresholdSeconds', () => {
  it('is MAX_IDLE_SECONDS below warning and EMERGENCY_MAX_IDLE_SECONDS at warning', () => {
    expect(idleThresholdSeconds('healthy', THRESHOLDS)).toBe(300);
    expect(idleThresholdSeconds('caution', THRESHOLDS)).toBe(300);
    expect(idleThresholdSeconds('warning', THRESHOLDS)).toBe(60);
  });

  it('never raises the threshold at warning when the emergency one is set above the normal one', () => {
    expect(idleThresholdSeconds('warning', { ...THRESHOLDS, maxIdleSeconds: 30 })).toBe(30);
  });
});

describe('measureUsers', () => {
  const server = { maxConnections: 151, maxUserConnections: 0 };

  it('counts total, active, sleeping, idle and idle-in-transaction per target user', () => {
    const sessions = [
      session({ id: 1, command: 'Query', timeSeconds: 2, info: 'SELECT 1' }),
      session({ id: 2, timeSeconds: 10 }),
      session({ id: 3, timeSeconds: 301 }),
      session({ id: 4, timeSeconds: 400, transactionSeconds: 500 }),
      session({ id: 5, user: 'other', timeSeconds: 999 }),
      session({ id: 6, user: 'reports', timeSeconds: 999 }),
    ];
    const [app, reports] = measureUsers(
      sessions,
      ['app', 'reports'],
      server,
      [
        { user: 'app', host: '%', maxUserConnections: 10 },
        { user: 'reports', host: '%', maxUserConnections: 0 },
      ],
      THRESHOLDS,
    );
    expect(app).toEqual({
      user: 'app',
      accountLimit: 10,
      accountFound: true,
      effectiveLimit: 10,
      total: 4,
      active: 1,
      sleeping: 3,
      idle: 2,
      idleInTransaction: 1,
      usagePercent: 40,
      level: 'healthy',
    });
    expect(reports).toMatchObject({ total: 1, effectiveLimit: 151, accountLimit: 0, idle: 1 });
  });

  it('holds a user with several accounts to the tightest one', () => {
    const [usage] = measureUsers(
      [session()],
      ['app'],
      server,
      [
        { user: 'app', host: 'localhost', maxUserConnections: 0 },
        { user: 'app', host: '%', maxUserConnections: 4 },
      ],
      THRESHOLDS,
    );
    expect(usage).toMatchObject({ effectiveLimit: 4, accountLimit: 4, usagePercent: 25 });
  });

  it('reports a target user without an account, limited by the server only', () => {
    const [usage] = measureUsers(
      [],
      ['ghost'],
      { maxConnections: 100, maxUserConnections: 0 },
      [],
      THRESHOLDS,
    );
    expect(usage).toMatchObject({ accountFound: false, effectiveLimit: 100, total: 0, usagePercent: 0 });
  });

  it('counts idle against the emergency threshold when a user is at warning level', () => {
    const sessions = Array.from({ length: 9 }, (_, index) => session({ id: index + 1, timeSeconds: 61 }));
    const [usage] = measureUsers(
      sessions,
      ['app'],
      server,
      [{ user: 'app', host: '%', maxUserConnections: 10 }],
      THRESHOLDS,
    );
    expect(usage).toMatchObject({ level: 'warning', usagePercent: 90, idle: 9 });
  });
});

describe('decideKill: never', () => {
  it('kills an idle target-user session past the threshold (the baseline for the rules below)', () => {
    expect(decideKill(session(), policy())).toEqual({ kill: true, reason: 'idle', thresholdSeconds: 300 });
  });

  it('never kills its own session', () => {
    expect(decideKill(session({ id: 7 }), policy())).toEqual({ kill: false, skip: 'own-session' });
  });

  it('never kills another user’s session', () => {
    expect(decideKill(session({ user: 'bystander' }), policy())).toEqual({
      kill: false,
      skip: 'not-target-user',
    });
  });

  it.each(['', 'system user', 'event_scheduler', 'unauthenticated user'])(
    'never kills a thread of the system account "%s", even when listed as a target',
    (user) => {
      expect(decideKill(session({ user }), policy({ targetUsers: ['app', user] }))).toEqual({
        kill: false,
        skip: 'system-thread',
      });
    },
  );

  it.each([...SYSTEM_COMMANDS])('never kills a "%s" thread (server, replication or half-open)', (command) => {
    expect(decideKill(session({ command }), policy())).toEqual({ kill: false, skip: 'system-thread' });
  });

  it('never kills a session running a statement, however long', () => {
    expect(
      decideKill(session({ command: 'Query', timeSeconds: 99_999, info: 'SELECT SLEEP(99999)' }), policy()),
    ).toEqual({ kill: false, skip: 'not-sleeping' });
  });

  it('never kills a sleeping session that still shows a statement', () => {
    expect(decideKill(session({ info: 'COMMIT' }), policy())).toEqual({
      kill: false,
      skip: 'running-statement',
    });
  });

  it('never kills a session idle exactly the threshold or less', () => {
    expect(decideKill(session({ timeSeconds: 300 }), policy())).toEqual({
      kill: false,
      skip: 'idle-under-threshold',
    });
    expect(decideKill(session({ timeSeconds: 0 }), policy())).toEqual({
      kill: false,
      skip: 'idle-under-threshold',
    });
  });
});

describe('decideKill: thresholds', () => {
  it('uses the emergency threshold at warning level', () => {
    expect(decideKill(session({ timeSeconds: 61 }), policy({ level: 'warning' }))).toEqual({
      kill: true,
      reason: 'idle-emergency',
      thresholdSeconds: 60,
    });
    expect(decideKill(session({ timeSeconds: 60 }), policy({ level: 'warning' }))).toEqual({
      kill: false,
      skip: 'idle-under-threshold',
    });
  });

  it('keeps the normal threshold at caution level', () => {
    expect(decideKill(session({ timeSeconds: 299 }), policy({ level: 'caution' }))).toEqual({
      kill: false,
      skip: 'idle-under-threshold',
    });
  });

  it('kills a session with an open transaction only after MAX_IDLE_IN_TRANSACTION_SECONDS', () => {
    const inTransaction = { transactionSeconds: 2000 };
    expect(decideKill(session({ ...inTransaction, timeSeconds: 900 }), policy())).toEqual({
      kill: false,
      skip: 'in-transaction-under-threshold',
    });
    expect(decideKill(session({ ...inTransaction, timeSeconds: 901 }), policy())).toEqual({
      kill: true,
      reason: 'idle-in-transaction',
      thresholdSeconds: 900,
    });
  });

  it('holds every idle session to the in-transaction threshold when transactions are not visible', () => {
    const blind = policy({ transactionsVisible: false, level: 'warning' });
    expect(decideKill(session({ timeSeconds: 900 }), blind)).toEqual({
      kill: false,
      skip: 'in-transaction-under-threshold',
    });
    expect(decideKill(session({ timeSeconds: 901 }), blind)).toEqual({
      kill: true,
      reason: 'idle-in-transaction',
      thresholdSeconds: 900,
    });
  });

  it('does not shorten the in-transaction threshold at warning level', () => {
    expect(
      decideKill(session({ transactionSeconds: 100, timeSeconds: 100 }), policy({ level: 'warning' })),
    ).toEqual({ kill: false, skip: 'in-transaction-under-threshold' });
  });
});

describe('selectKillCandidates', () => {
  it('keeps only the killable sessions, longest idle first', () => {
    const sessions = [
      session({ id: 1, timeSeconds: 400 }),
      session({ id: 2, timeSeconds: 5000 }),
      session({ id: 3, timeSeconds: 10 }),
      session({ id: 7, timeSeconds: 9999 }),
      session({ id: 4, user: 'other', timeSeconds: 9999 }),
      session({ id: 5, command: 'Query', info: 'SELECT 1', timeSeconds: 9999 }),
    ];
    const candidates = selectKillCandidates(sessions, policy());
    expect(candidates.map((candidate) => [candidate.session.id, candidate.reason])).toEqual([
      [2, 'idle'],
      [1, 'idle'],
    ]);
  });

  it('selects nothing when there are no target users', () => {
    expect(selectKillCandidates([session()], policy({ targetUsers: [] }))).toEqual([]);
  });
});
