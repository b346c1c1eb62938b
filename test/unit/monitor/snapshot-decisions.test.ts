// Policies tried on the two shipped snapshots (a MariaDB incident at warning level, and a healthy
// MySQL 8 server with program names), offline: what each would kill, stop or keep, and why.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NO_NEVER_KILL } from '../../../lib/monitor/policy.js';
import {
  evaluateOffline,
  type MonitorPolicyInput,
  type MonitorReport,
} from '../../../lib/monitor/run-monitor.js';
import { MONITOR_SNAPSHOT_FORMAT, parseSnapshot, serializeSnapshot } from '../../../lib/monitor/snapshot.js';
import { captureAudit } from '../../helpers/monitor.js';

function fixture(name: string): string {
  return readFileSync(new URL(`../../fixtures/monitor/${name}`, import.meta.url), 'utf8');
}

const DEFAULTS: MonitorPolicyInput = {
  thresholds: {
    maxIdleSeconds: 300,
    maxIdleInTransactionSeconds: 900,
    emergencyMaxIdleSeconds: 60,
    usageCautionPercent: 60,
    usageWarningPercent: 80,
  },
  killIdle: false,
  maxBusySeconds: undefined,
  neverKill: NO_NEVER_KILL,
  maxKillsPerRun: 50,
};

function evaluate(name: string, policy: Partial<MonitorPolicyInput> = {}): MonitorReport {
  return evaluateOffline(parseSnapshot(fixture(name)), { ...DEFAULTS, ...policy }, captureAudit());
}

const plan = (report: MonitorReport) => report.kills.map((kill) => [kill.id, kill.action, kill.result]);
const skip = (report: MonitorReport, id: number) => {
  const entry = report.decisions.find((decision) => decision.id === id);
  return entry?.decision.kill === false ? entry.decision.skip : entry?.decision.reason;
};

describe('snapshot-mariadb-warning.json (17 of 20 sessions: warning level)', () => {
  it('with the defaults: the emergency threshold, oldest idle first, transactions only past 900 s', () => {
    const report = evaluate('snapshot-mariadb-warning.json');
    expect(report.level).toBe('warning');
    expect(report.idleThresholdSeconds).toBe(60);
    expect(report.dryRun).toBe(true);
    expect(plan(report)).toEqual([
      [216, 'kill-connection', 'would-kill'],
      [201, 'kill-connection', 'would-kill'],
      [202, 'kill-connection', 'would-kill'],
      [211, 'kill-connection', 'would-kill'],
      [203, 'kill-connection', 'would-kill'],
      [204, 'kill-connection', 'would-kill'],
      [205, 'kill-connection', 'would-kill'],
      [206, 'kill-connection', 'would-kill'],
    ]);
    expect(skip(report, 212)).toBe('in-transaction-under-threshold');
    expect(skip(report, 207)).toBe('idle-under-threshold');
    expect(skip(report, 213)).toBe('not-sleeping');
    // The bystander, the daemon and the half-open login are not the target user's: not even listed.
    expect(report.decisions.map((entry) => entry.id)).not.toContain(401);
  });

  it('with --max-busy=300 --max-kills=3 --never-kill=host:bastion.*: a cap, runaways after idle, the bulk load spared', () => {
    const report = evaluate('snapshot-mariadb-warning.json', {
      maxBusySeconds: 300,
      maxKillsPerRun: 3,
      neverKill: { programNames: [], hostPatterns: ['bastion.*'] },
    });
    expect(plan(report)).toEqual([
      [201, 'kill-connection', 'would-kill'],
      [202, 'kill-connection', 'would-kill'],
      [211, 'kill-connection', 'would-kill'],
      [203, 'kill-connection', 'left'],
      [204, 'kill-connection', 'left'],
      [205, 'kill-connection', 'left'],
      [206, 'kill-connection', 'left'],
      [213, 'kill-query', 'left'],
      [215, 'kill-query', 'left'],
    ]);
    expect(report.killsLeft).toBe(6);
    expect(skip(report, 216)).toBe('never-kill');
    // In time at the snapshot's moment (deadline 45 s after it), whatever today's clock says.
    expect(skip(report, 214)).toBe('bulk-load-in-time');
    expect(skip(report, 215)).toBe('runaway-statement');
  });

  it('protects every session when program names are listed but the snapshot has none', () => {
    const report = evaluate('snapshot-mariadb-warning.json', {
      neverKill: { programNames: ['eclectyc-prod-processImports'], hostPatterns: [] },
    });
    expect(report.kills).toEqual([]);
    expect(skip(report, 201)).toBe('never-kill-unverifiable');
  });
});

describe('snapshot-mysql8-healthy.json (performance_schema, program names)', () => {
  it('with the defaults: idle sessions past 300 s, oldest first, nothing busy touched', () => {
    const report = evaluate('snapshot-mysql8-healthy.json');
    expect(report.level).toBe('healthy');
    expect(report.sessionSource).toBe('performance_schema');
    expect(plan(report)).toEqual([
      [303, 'kill-connection', 'would-kill'],
      [301, 'kill-connection', 'would-kill'],
      [302, 'kill-connection', 'would-kill'],
    ]);
  });

  it('with --never-kill=program:mysql --max-busy=120: the operator’s client kept, the runaway query stopped', () => {
    const report = evaluate('snapshot-mysql8-healthy.json', {
      neverKill: { programNames: ['mysql'], hostPatterns: [] },
      maxBusySeconds: 120,
    });
    expect(plan(report)).toEqual([
      [301, 'kill-connection', 'would-kill'],
      [302, 'kill-connection', 'would-kill'],
      [304, 'kill-query', 'would-kill'],
    ]);
    expect(skip(report, 303)).toBe('never-kill');
    expect(skip(report, 305)).toBe('bulk-load-in-time');
    expect(skip(report, 306)).toBe('idle-under-threshold');
  });
});

describe('parseSnapshot', () => {
  it('round-trips what serializeSnapshot wrote', () => {
    const snapshot = parseSnapshot(fixture('snapshot-mysql8-healthy.json'));
    expect(parseSnapshot(serializeSnapshot(snapshot))).toEqual(snapshot);
    expect(snapshot.format).toBe(MONITOR_SNAPSHOT_FORMAT);
  });

  it.each([
    ['not JSON', 'not json', /not JSON/],
    ['another format', JSON.stringify({ format: 'x' }), /format/],
    [
      'a session with a text id',
      fixture('snapshot-mysql8-healthy.json').replace('"id": 301', '"id": "301"'),
      /sessions\[1\]\.id/,
    ],
    [
      'a bad takenAt',
      fixture('snapshot-mysql8-healthy.json').replace('2026-11-30T03:00:00.000Z', 'yesterday'),
      /takenAt/,
    ],
  ])('refuses %s, naming the field', (_name, text, message) => {
    expect(() => parseSnapshot(text)).toThrow(message);
  });
});
