// The pt-kill style controls, pure: runaway statements (KILL QUERY) and the processor's bulk load,
// the never-kill list, and the order and cap of a run's kills.

import { describe, expect, it } from 'vitest';
import {
  capKills,
  decideKill,
  hostPatternMatches,
  hostWithoutPort,
  type KillPolicy,
  killAction,
  NO_NEVER_KILL,
  type SessionRow,
  selectKillCandidates,
} from '../../../lib/monitor/policy.js';
import { bulkLoadDeadlineMs, bulkLoadTag } from '../../../lib/statement-tag.js';

const NOW_MS = Date.parse('2026-11-30T12:00:00Z');

function session(overrides: Partial<SessionRow> = {}): SessionRow {
  return {
    id: 100,
    user: 'app',
    host: '10.0.0.1:51234',
    db: 'eclectyc',
    command: 'Query',
    timeSeconds: 120,
    state: 'User sleep',
    info: 'SELECT SLEEP(600)',
    transactionSeconds: null,
    programName: 'eclectyc-prod-api',
    ...overrides,
  };
}

function policy(overrides: Partial<KillPolicy> = {}): KillPolicy {
  return {
    targetUsers: ['app'],
    level: 'healthy',
    thresholds: {
      maxIdleSeconds: 300,
      maxIdleInTransactionSeconds: 900,
      emergencyMaxIdleSeconds: 60,
      usageCautionPercent: 60,
      usageWarningPercent: 80,
    },
    ownSessionId: 7,
    transactionsVisible: true,
    neverKill: NO_NEVER_KILL,
    programNamesVisible: true,
    maxBusySeconds: 60,
    nowMs: NOW_MS,
    ...overrides,
  };
}

describe('runaway statements (MAX_BUSY_SECONDS)', () => {
  it('stops a target user’s statement running past the threshold with KILL QUERY', () => {
    const decision = decideKill(session(), policy());
    expect(decision).toEqual({ kill: true, reason: 'runaway-statement', thresholdSeconds: 60 });
    expect(killAction('runaway-statement')).toBe('kill-query');
    expect(killAction('idle')).toBe('kill-connection');
  });

  it('leaves busy sessions alone when MAX_BUSY_SECONDS is off (the default)', () => {
    expect(decideKill(session(), policy({ maxBusySeconds: null }))).toEqual({
      kill: false,
      skip: 'not-sleeping',
    });
  });

  it('leaves a statement at or under the threshold alone', () => {
    expect(decideKill(session({ timeSeconds: 60 }), policy())).toEqual({
      kill: false,
      skip: 'busy-under-threshold',
    });
  });

  it('never touches another user’s statement, a system thread or its own session', () => {
    expect(decideKill(session({ user: 'admin' }), policy())).toEqual({
      kill: false,
      skip: 'not-target-user',
    });
    expect(decideKill(session({ command: 'Daemon', user: 'event_scheduler' }), policy())).toEqual({
      kill: false,
      skip: 'system-thread',
    });
    expect(decideKill(session({ id: 7 }), policy())).toEqual({ kill: false, skip: 'own-session' });
  });

  it('only stops statements (Query, Execute), never a session in another command', () => {
    expect(decideKill(session({ command: 'Execute' }), policy()).kill).toBe(true);
    expect(decideKill(session({ command: 'Field List' }), policy())).toEqual({
      kill: false,
      skip: 'not-sleeping',
    });
  });

  it('spares the processor’s bulk load while its invocation’s deadline is ahead', () => {
    const info = `${bulkLoadTag(NOW_MS + 30_000)} LOAD DATA LOCAL INFILE 'readings.tsv' REPLACE INTO`;
    expect(decideKill(session({ info, timeSeconds: 200 }), policy())).toEqual({
      kill: false,
      skip: 'bulk-load-in-time',
    });
  });

  it('stops a bulk load whose invocation’s deadline has passed (the invocation is gone)', () => {
    const info = `${bulkLoadTag(NOW_MS - 1)} LOAD DATA LOCAL INFILE 'readings.tsv' REPLACE INTO`;
    expect(decideKill(session({ info, timeSeconds: 200 }), policy()).kill).toBe(true);
  });

  it('does not believe a deadline further out than any invocation could run', () => {
    // The statement started 200 s ago; no Lambda runs 900 s past that.
    const info = `${bulkLoadTag(NOW_MS - 200_000 + 900_001)} INSERT INTO meter_readings`;
    expect(decideKill(session({ info, timeSeconds: 200 }), policy()).kill).toBe(true);
    const believable = `${bulkLoadTag(NOW_MS - 200_000 + 900_000)} INSERT INTO meter_readings`;
    expect(decideKill(session({ info: believable, timeSeconds: 200 }), policy()).kill).toBe(false);
  });

  it('reads the tag only at the start of the statement', () => {
    expect(bulkLoadDeadlineMs(bulkLoadTag(1_796_084_271_778))).toBe(1_796_084_271_778);
    expect(bulkLoadDeadlineMs(`SELECT 1 ${bulkLoadTag(1_796_084_271_778)}`)).toBeNull();
    expect(bulkLoadDeadlineMs('/* eclectyc bulk-load deadline_ms=12 */ SELECT 1')).toBeNull();
    expect(bulkLoadDeadlineMs(null)).toBeNull();
  });
});

describe('MONITOR_NEVER_KILL', () => {
  const idle = session({ command: 'Sleep', info: null, state: '', timeSeconds: 400 });

  it('reports but never kills a listed program, idle or busy', () => {
    const neverKill = { programNames: ['eclectyc-prod-api'], hostPatterns: [] };
    expect(decideKill(idle, policy({ neverKill }))).toEqual({ kill: false, skip: 'never-kill' });
    expect(decideKill(session(), policy({ neverKill }))).toEqual({ kill: false, skip: 'never-kill' });
    expect(
      decideKill({ ...idle, programName: 'eclectyc-prod-processImports' }, policy({ neverKill })).kill,
    ).toBe(true);
  });

  it('protects every target session when program names cannot be read', () => {
    const neverKill = { programNames: ['eclectyc-prod-api'], hostPatterns: [] };
    expect(
      decideKill({ ...idle, programName: null }, policy({ neverKill, programNamesVisible: false })),
    ).toEqual({
      kill: false,
      skip: 'never-kill-unverifiable',
    });
    // With host patterns only, program names do not matter.
    const hostsOnly = { programNames: [], hostPatterns: ['10.9.*'] };
    expect(decideKill(idle, policy({ neverKill: hostsOnly, programNamesVisible: false })).kill).toBe(true);
  });

  it('matches host patterns on the host without its port, with * or % for any characters', () => {
    expect(hostWithoutPort('10.0.0.1:51234')).toBe('10.0.0.1');
    expect(hostWithoutPort('localhost')).toBe('localhost');
    expect(hostPatternMatches('10.0.0.*', '10.0.0.1')).toBe(true);
    expect(hostPatternMatches('10.0.0.%', '10.0.0.1')).toBe(true);
    expect(hostPatternMatches('10.0.0.*', '10.0.1.1')).toBe(false);
    // A dot is a dot, not "any character".
    expect(hostPatternMatches('10.0.0.1', '10a0b0c1')).toBe(false);
    expect(hostPatternMatches('bastion.internal', 'BASTION.internal')).toBe(true);
    const neverKill = { programNames: [], hostPatterns: ['10.0.0.*'] };
    expect(decideKill(idle, policy({ neverKill }))).toEqual({ kill: false, skip: 'never-kill' });
  });
});

describe('order and cap', () => {
  it('orders idle sessions longest idle first, then runaway statements longest running first', () => {
    const sessions = [
      session({ id: 1, command: 'Sleep', info: null, timeSeconds: 310 }),
      session({ id: 2, timeSeconds: 500 }),
      session({ id: 3, command: 'Sleep', info: null, timeSeconds: 900 }),
      session({ id: 4, timeSeconds: 70 }),
      session({ id: 5, command: 'Sleep', info: null, timeSeconds: 450 }),
    ];
    expect(selectKillCandidates(sessions, policy()).map((candidate) => candidate.session.id)).toEqual([
      3, 5, 1, 2, 4,
    ]);
  });

  it('acts on at most the cap and reports the rest as left, in the same order', () => {
    const sessions = Array.from({ length: 7 }, (_, i) =>
      session({ id: 11 + i, command: 'Sleep', info: null, timeSeconds: 301 + i }),
    );
    const { selected, left } = capKills(selectKillCandidates(sessions, policy()), 5);
    expect(selected.map((candidate) => candidate.session.id)).toEqual([17, 16, 15, 14, 13]);
    expect(left.map((candidate) => candidate.session.id)).toEqual([12, 11]);
  });
});
