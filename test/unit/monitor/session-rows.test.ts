// The processlist as each server returns it: MariaDB 10.11's information_schema rows (captured from a
// real server with performance_schema on, user and schema names replaced) and MySQL 8.0's
// performance_schema.processlist rows (written from the MySQL 8.0 reference manual's column list;
// not captured: no MySQL 8 server was available), read into the rows the policy decides on.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NO_NEVER_KILL, type SessionRow, selectKillCandidates } from '../../../lib/monitor/policy.js';
import {
  initialReadPlan,
  narrowedPlan,
  type ServerState,
  sessionsSql,
  toSessionRow,
} from '../../../lib/monitor/snapshot-repository.js';

function rows(name: string): Record<string, unknown>[] {
  return JSON.parse(readFileSync(new URL(`../../fixtures/monitor/${name}`, import.meta.url), 'utf8'));
}

const SERVER: ServerState = {
  ownSessionId: 1,
  ownUser: 'monitor',
  maxConnections: 151,
  maxUserConnections: 0,
  ownSessionUserLimit: 3,
  performanceSchema: true,
  performanceSchemaProcesslist: true,
};

describe('processlist rows of both shapes', () => {
  it('reads MariaDB 10.11 information_schema rows, with transactions and program names', () => {
    const sessions = rows('processlist-rows-mariadb-10.11.json').map(toSessionRow);
    expect(sessions).toEqual<SessionRow[]>([
      expect.objectContaining({
        id: 6,
        user: 'app',
        command: 'Sleep',
        transactionSeconds: null,
        programName: 'eclectyc-prod-api',
      }),
      expect.objectContaining({
        id: 7,
        command: 'Sleep',
        transactionSeconds: 2,
        programName: 'eclectyc-prod-api',
      }),
      expect.objectContaining({
        id: 8,
        command: 'Query',
        timeSeconds: 2,
        programName: 'eclectyc-prod-processImports',
        info: expect.stringMatching(/^\/\* eclectyc bulk-load deadline_ms=\d{13} \*\/ SELECT SLEEP/),
      }),
    ]);
  });

  it('reads MySQL 8 performance_schema rows: NULL states, a daemon, a half-open login', () => {
    const sessions = rows('processlist-rows-mysql-8.0.json').map(toSessionRow);
    expect(sessions.map((session) => [session.id, session.user, session.command, session.state])).toEqual([
      [5, 'event_scheduler', 'Daemon', 'Waiting on empty queue'],
      [41, 'app', 'Sleep', null],
      [42, 'app', 'Query', 'executing'],
      [43, 'unauthenticated user', 'Connect', 'login'],
    ]);
    const candidates = selectKillCandidates(sessions, {
      targetUsers: ['app', 'event_scheduler', 'unauthenticated user'],
      level: 'healthy',
      thresholds: {
        maxIdleSeconds: 300,
        maxIdleInTransactionSeconds: 900,
        emergencyMaxIdleSeconds: 60,
        usageCautionPercent: 60,
        usageWarningPercent: 80,
      },
      ownSessionId: 1,
      transactionsVisible: true,
      neverKill: NO_NEVER_KILL,
      programNamesVisible: true,
      maxBusySeconds: 60,
      // Before the bulk load's deadline: only the idle API session goes, never the daemon or the login.
      nowMs: 1_796_084_271_778 - 60_000,
    });
    expect(candidates.map((candidate) => [candidate.session.id, candidate.reason])).toEqual([[41, 'idle']]);
  });

  it('rejects a row whose id is not a whole number', () => {
    expect(() => toSessionRow({ id: 'x', time_seconds: 1 })).toThrow(/PROCESSLIST.ID/);
  });
});

describe('the read plan', () => {
  it('reads performance_schema.processlist where the server has it, else information_schema', () => {
    expect(initialReadPlan(SERVER)).toEqual({
      source: 'performance_schema',
      transactions: true,
      connectAttributes: true,
    });
    expect(
      initialReadPlan({ ...SERVER, performanceSchema: false, performanceSchemaProcesslist: false }),
    ).toEqual({ source: 'information_schema', transactions: true, connectAttributes: false });
    expect(sessionsSql(initialReadPlan(SERVER))).toContain('FROM performance_schema.processlist p');
    expect(
      sessionsSql({ source: 'information_schema', transactions: false, connectAttributes: false }),
    ).toMatch(/FROM information_schema\.PROCESSLIST p\s+WHERE/);
  });

  it('reads QUERY_ID only from a processlist that has it (MariaDB), for KILL QUERY ID', () => {
    const mariadb = { ...SERVER, performanceSchemaProcesslist: false, processlistQueryIds: true };
    expect(initialReadPlan(mariadb)).toMatchObject({ source: 'information_schema', queryIds: true });
    expect(sessionsSql(initialReadPlan(mariadb))).toContain('p.QUERY_ID AS query_id');
    // MySQL 8: performance_schema.processlist, whose rows have no query id.
    expect(initialReadPlan({ ...SERVER, processlistQueryIds: false })).not.toHaveProperty('queryIds');
    expect(sessionsSql(initialReadPlan({ ...SERVER, processlistQueryIds: false }))).not.toContain('QUERY_ID');
    expect(toSessionRow({ id: 6, time_seconds: 3, query_id: '912' }).queryId).toBe(912);
    expect(toSessionRow({ id: 6, time_seconds: 3 })).not.toHaveProperty('queryId');
  });

  it('drops transactions on 1227, then program names, then performance_schema on 1142, then gives up', () => {
    const full = initialReadPlan(SERVER);
    expect(narrowedPlan(full, 1227)).toEqual({ ...full, transactions: false });
    const noAttrs = narrowedPlan(full, 1142);
    expect(noAttrs).toEqual({ ...full, connectAttributes: false });
    expect(noAttrs && narrowedPlan(noAttrs, 1142)).toEqual({
      ...full,
      connectAttributes: false,
      source: 'information_schema',
    });
    expect(
      narrowedPlan({ source: 'information_schema', transactions: false, connectAttributes: false }, 1142),
    ).toBeNull();
    expect(narrowedPlan(full, 2013)).toBeNull();
  });
});
