// The monitor's part of the packaged CloudFormation template: its environment, the alarm topic, the
// alarms (metric, threshold, missing-data rule) and the dashboard, with thresholds following the params.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withPackageLock } from '../helpers/package-lock.js';

const run = promisify(execFile);

type Resource = { Type: string; Condition?: string; Properties: Record<string, unknown> };
type Template = { Resources: Record<string, Resource>; Conditions?: Record<string, unknown> };

const directories: string[] = [];

/** Runs `osls package` offline (no AWS credentials, no telemetry) into a temp dir; returns the template. */
async function packageTemplate(extraArgs: string[] = []): Promise<Template> {
  const directory = await mkdtemp(join(tmpdir(), 'eclectyc-package-monitor-'));
  directories.push(directory);
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('AWS_')) env[name] = value;
  }
  Object.assign(env, {
    SLS_TELEMETRY_DISABLED: '1',
    SLS_NOTIFICATIONS_MODE: 'off',
    AWS_SDK_LOAD_CONFIG: '0',
  });
  try {
    await withPackageLock(() =>
      run('node_modules/.bin/osls', ['package', '--stage', 'ci', '--package', directory, ...extraArgs], {
        env,
        timeout: 120_000,
      }),
    );
  } catch (error) {
    // osls explains itself on stdout; without it a failure here says nothing.
    const output = error as { stdout?: unknown; stderr?: unknown };
    throw new Error(`osls package failed:\n${String(output.stdout)}\n${String(output.stderr)}`, {
      cause: error,
    });
  }
  return JSON.parse(await readFile(join(directory, 'cloudformation-template-update-stack.json'), 'utf8'));
}

let template: Template;
let tuned: Template;

beforeAll(async () => {
  [template, tuned] = await Promise.all([
    packageTemplate(),
    packageTemplate([
      '--param',
      'usageCautionPercent=55',
      '--param',
      'usageWarningPercent=75',
      '--param',
      'alarmEmail=ops@example.invalid',
    ]),
  ]);
}, 180_000);

afterAll(async () => {
  for (const directory of directories) await rm(directory, { recursive: true, force: true });
});

function resource(from: Template, name: string): Resource {
  const found = from.Resources[name];
  if (found === undefined) throw new Error(`no resource ${name} in the template`);
  return found;
}

function monitorEnvironment(from: Template): Record<string, unknown> {
  const environment = resource(from, 'MonitorLambdaFunction').Properties.Environment as {
    Variables: Record<string, unknown>;
  };
  return environment.Variables;
}

const TOPIC = [{ Ref: 'AlarmTopic' }];
const DIMENSIONS = [
  { Name: 'service', Value: 'eclectyc' },
  { Name: 'stage', Value: 'ci' },
];

describe('serverless package: the connection monitor', () => {
  it('gives the monitor its own secret, KILL_IDLE=true and the thresholds the alarms use', () => {
    expect(monitorEnvironment(template)).toMatchObject({
      MONITOR_DB_SECRET_ID: 'eclectyc/ci/monitor-db',
      MONITOR_TARGET_USERS: '',
      KILL_IDLE: 'true',
      MAX_IDLE_SECONDS: '300',
      MAX_IDLE_IN_TRANSACTION_SECONDS: '900',
      EMERGENCY_MAX_IDLE_SECONDS: '60',
      USAGE_CAUTION_PERCENT: '60',
      USAGE_WARNING_PERCENT: '80',
    });
  });

  it('defines the alarm topic, and an e-mail subscription only when alarmEmail is set', () => {
    expect(resource(template, 'AlarmTopic').Type).toBe('AWS::SNS::Topic');
    expect(resource(template, 'AlarmEmailSubscription').Condition).toBe('HasAlarmEmail');
    expect(template.Conditions?.HasAlarmEmail).toEqual({ 'Fn::Not': [{ 'Fn::Equals': ['', ''] }] });
    expect(tuned.Conditions?.HasAlarmEmail).toEqual({
      'Fn::Not': [{ 'Fn::Equals': ['ops@example.invalid', ''] }],
    });
    expect(resource(tuned, 'AlarmEmailSubscription').Properties).toEqual({
      TopicArn: { Ref: 'AlarmTopic' },
      Protocol: 'email',
      Endpoint: 'ops@example.invalid',
    });
  });

  it.each([
    [
      'ConnectionUsageCautionAlarm',
      'Eclectyc',
      'UsagePercent',
      'Maximum',
      'GreaterThanThreshold',
      60,
      1,
      'notBreaching',
    ],
    [
      'ConnectionUsageWarningAlarm',
      'Eclectyc',
      'UsagePercent',
      'Maximum',
      'GreaterThanThreshold',
      80,
      1,
      'notBreaching',
    ],
    ['MonitorNotReportingAlarm', 'Eclectyc', 'MonitorRun', 'Sum', 'LessThanThreshold', 1, 3, 'breaching'],
    ['KillFailuresAlarm', 'Eclectyc', 'KillFailures', 'Sum', 'GreaterThanThreshold', 0, 1, 'notBreaching'],
    [
      'ImportStuckJobsAlarm',
      'Eclectyc',
      'ImportStuckJobs',
      'Maximum',
      'GreaterThanThreshold',
      0,
      1,
      'notBreaching',
    ],
    [
      'ImportFailureRateAlarm',
      'Eclectyc',
      'ImportFailureRate24h',
      'Maximum',
      'GreaterThanThreshold',
      25,
      1,
      'notBreaching',
    ],
    [
      'ImportQueueDepthAlarm',
      'Eclectyc',
      'ImportQueueDepth',
      'Maximum',
      'GreaterThanThreshold',
      100,
      1,
      'notBreaching',
    ],
  ] as const)(
    '%s watches %s/%s (%s, %s %d over %d × 5 min, missing data %s)',
    (name, namespace, metric, statistic, comparison, threshold, periods, missing) => {
      const alarm = resource(template, name);
      expect(alarm.Type).toBe('AWS::CloudWatch::Alarm');
      expect(alarm.Properties).toMatchObject({
        Namespace: namespace,
        MetricName: metric,
        Dimensions: DIMENSIONS,
        Statistic: statistic,
        Period: 300,
        EvaluationPeriods: periods,
        ComparisonOperator: comparison,
        TreatMissingData: missing,
        AlarmActions: TOPIC,
        OKActions: TOPIC,
      });
      expect(Number(alarm.Properties.Threshold)).toBe(threshold);
    },
  );

  it('alarms on not reporting only when all three 5-minute periods miss a run', () => {
    expect(resource(template, 'MonitorNotReportingAlarm').Properties.DatapointsToAlarm).toBe(3);
  });

  it('alarms on any monitor function error', () => {
    expect(resource(template, 'MonitorErrorsAlarm').Properties).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: 'MonitorLambdaFunction' } }],
      Statistic: 'Sum',
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
      TreatMissingData: 'notBreaching',
      AlarmActions: TOPIC,
      OKActions: TOPIC,
    });
  });

  it('moves the usage alarms and the function’s levels together when the params change', () => {
    expect(Number(resource(tuned, 'ConnectionUsageCautionAlarm').Properties.Threshold)).toBe(55);
    expect(Number(resource(tuned, 'ConnectionUsageWarningAlarm').Properties.Threshold)).toBe(75);
    expect(monitorEnvironment(tuned)).toMatchObject({
      USAGE_CAUTION_PERCENT: '55',
      USAGE_WARNING_PERCENT: '75',
    });
  });

  it('builds a dashboard whose body is valid JSON graphing usage, sessions, kills and the queue', () => {
    const dashboard = resource(template, 'MonitorDashboard');
    expect(dashboard.Type).toBe('AWS::CloudWatch::Dashboard');
    const body = (dashboard.Properties.DashboardBody as { 'Fn::Sub': string })['Fn::Sub'];
    // What Fn::Sub would fill in at deploy time; everything else must already be plain JSON.
    const substituted = body
      .replace(/\$\{AWS::Region\}/g, 'eu-west-2')
      .replace(/\$\{MonitorLambdaFunction\}/g, 'eclectyc-ci-monitor');
    expect(substituted).not.toContain('${');
    const parsed = JSON.parse(substituted) as { widgets: Array<{ properties: { metrics: unknown[][] } }> };
    const metricNames = parsed.widgets.flatMap((widget) =>
      widget.properties.metrics.map((metric) => metric[1]),
    );
    expect(metricNames).toEqual(
      expect.arrayContaining([
        'UsagePercent',
        'ActiveSessions',
        'SleepingSessions',
        'IdleSessions',
        'KilledSessions',
        'KillFailures',
        'ImportQueueDepth',
        'ImportStuckJobs',
        'ImportFailureRate24h',
      ]),
    );
    expect(substituted).toContain('"value": 60');
    const tunedBody = (resource(tuned, 'MonitorDashboard').Properties.DashboardBody as { 'Fn::Sub': string })[
      'Fn::Sub'
    ];
    expect(tunedBody).toContain('"value": 55');
  });
});
