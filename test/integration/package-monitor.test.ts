// The monitor's part of the packaged CloudFormation template: its environment, the alarm topic, the
// alarms (metric, threshold, missing-data rule) and the dashboard, with thresholds following the params.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resource, Template } from '../helpers/cloudformation.js';
import { packageInto } from '../helpers/packaged-template.js';

const directories: string[] = [];

/** Packages into a temp dir of this file's (removed after all); returns the template. */
async function packageTemplate(extraArgs: string[] = []): Promise<Template> {
  const directory = await mkdtemp(join(tmpdir(), 'eclectyc-package-monitor-'));
  directories.push(directory);
  return packageInto(directory, extraArgs);
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
      '--param',
      'api5xxRateAlarmPercent=2',
      '--param',
      'apiLatencyP99AlarmMs=6000',
      '--param',
      'connectionRefusalsAlarmPerMinute=7',
      '--param',
      'connectionRefusalsAlarmMinutes=3',
      '--param',
      'processImportsErrorsAlarm=2',
      '--param',
      'monitorMaxBusySeconds=120',
      '--param',
      'monitorNeverKill=program:eclectyc-ci-processImports',
      '--param',
      'monitorMaxKillsPerRun=10',
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

/** What Fn::Sub fills in at deploy time in the dashboard body; everything else must be plain JSON. */
function substitute(body: string): string {
  return body
    .replace(/\$\{AWS::Region\}/g, 'eu-west-2')
    .replace(/\$\{MonitorLambdaFunction\}/g, 'eclectyc-ci-monitor')
    .replace(/\$\{ApiLambdaFunction\}/g, 'eclectyc-ci-api')
    .replace(/\$\{ProcessImportsLambdaFunction\}/g, 'eclectyc-ci-processImports')
    .replace(/\$\{HttpApi\}/g, 'abc123');
}

type Widget = { properties: { title: string; metrics: unknown[][]; annotations?: unknown } };

function dashboardWidgets(from: Template): Widget[] {
  const body = (resource(from, 'MonitorDashboard').Properties.DashboardBody as { 'Fn::Sub': string })[
    'Fn::Sub'
  ];
  return (JSON.parse(substitute(body)) as { widgets: Widget[] }).widgets;
}
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
    const substituted = substitute(body);
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

const FUNCTION_DIMENSIONS = (functionKey: string) => [
  ...DIMENSIONS,
  { Name: 'function', Value: functionKey },
];

describe('serverless package: refusals and what callers feel (issue 16)', () => {
  it('passes the kill controls to the monitor, following the params', () => {
    expect(monitorEnvironment(template)).toMatchObject({
      MAX_BUSY_SECONDS: '0',
      MONITOR_NEVER_KILL: '',
      MAX_KILLS_PER_RUN: '50',
    });
    expect(monitorEnvironment(tuned)).toMatchObject({
      MAX_BUSY_SECONDS: '120',
      MONITOR_NEVER_KILL: 'program:eclectyc-ci-processImports',
      MAX_KILLS_PER_RUN: '10',
    });
  });

  it.each([
    ['ApiConnectionLimitErrorsAlarm', 'api'],
    ['ProcessImportsConnectionLimitErrorsAlarm', 'processImports'],
  ])('%s fires on any ConnectionLimitErrors of function=%s within a minute', (name, functionKey) => {
    expect(resource(template, name).Properties).toMatchObject({
      Namespace: 'Eclectyc',
      MetricName: 'ConnectionLimitErrors',
      Dimensions: FUNCTION_DIMENSIONS(functionKey),
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: TOPIC,
      OKActions: TOPIC,
    });
  });

  it.each([
    ['ApiConnectionRefusalsAlarm', 'api'],
    ['ProcessImportsConnectionRefusalsAlarm', 'processImports'],
  ])('%s fires on sustained ConnectionRefusals of function=%s, per the params', (name, functionKey) => {
    const expected = {
      Namespace: 'Eclectyc',
      MetricName: 'ConnectionRefusals',
      Dimensions: FUNCTION_DIMENSIONS(functionKey),
      Statistic: 'Sum',
      Period: 60,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: TOPIC,
    };
    const alarm = resource(template, name).Properties;
    expect(alarm).toMatchObject(expected);
    expect([alarm.Threshold, alarm.EvaluationPeriods, alarm.DatapointsToAlarm].map(Number)).toEqual([
      20, 5, 5,
    ]);
    const tunedAlarm = resource(tuned, name).Properties;
    expect(
      [tunedAlarm.Threshold, tunedAlarm.EvaluationPeriods, tunedAlarm.DatapointsToAlarm].map(Number),
    ).toEqual([7, 3, 3]);
  });

  it.each([
    ['ServerMaxConnectionsRefusalsAlarm', 'ConnectionErrorsMaxConnections', 0],
    ['AbortedConnectsAlarm', 'AbortedConnects', 50],
  ])('%s watches the monitor’s %s delta per 5-minute run (threshold %d)', (name, metric, threshold) => {
    const alarm = resource(template, name).Properties;
    expect(alarm).toMatchObject({
      Namespace: 'Eclectyc',
      MetricName: metric,
      Dimensions: DIMENSIONS,
      Statistic: 'Sum',
      Period: 300,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: TOPIC,
    });
    expect(Number(alarm.Threshold)).toBe(threshold);
  });

  it.each([
    ['ApiThrottlesAlarm', 'Throttles', 'ApiLambdaFunction', 60, 0, 0],
    ['ProcessImportsErrorsAlarm', 'Errors', 'ProcessImportsLambdaFunction', 300, 0, 2],
    ['MonitorErrorsAlarm', 'Errors', 'MonitorLambdaFunction', 300, 0, 0],
  ])(
    '%s watches AWS/Lambda %s of %s (period %d s, threshold %d, tuned %d)',
    (name, metric, fn, period, threshold, tunedThreshold) => {
      const alarm = resource(template, name).Properties;
      expect(alarm).toMatchObject({
        Namespace: 'AWS/Lambda',
        MetricName: metric,
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: fn } }],
        Statistic: 'Sum',
        Period: period,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: TOPIC,
      });
      expect(Number(alarm.Threshold)).toBe(threshold);
      expect(Number(resource(tuned, name).Properties.Threshold)).toBe(tunedThreshold);
    },
  );

  it('alarms on the HTTP API’s 5xx rate as metric math over 5xx and Count', () => {
    const alarm = resource(template, 'Api5xxRateAlarm').Properties;
    const metrics = alarm.Metrics as Array<Record<string, unknown>>;
    expect(metrics.find((entry) => entry.ReturnData === true)).toEqual({
      Id: 'rate',
      Label: '5xx rate (%)',
      Expression: 'IF(requests > 0, 100 * errors / requests, 0)',
      ReturnData: true,
    });
    for (const [id, metricName] of [
      ['errors', '5xx'],
      ['requests', 'Count'],
    ]) {
      expect(metrics.find((entry) => entry.Id === id)).toEqual({
        Id: id,
        ReturnData: false,
        MetricStat: {
          Metric: {
            Namespace: 'AWS/ApiGateway',
            MetricName: metricName,
            Dimensions: [{ Name: 'ApiId', Value: { Ref: 'HttpApi' } }],
          },
          Period: 300,
          Stat: 'Sum',
        },
      });
    }
    expect(alarm).toMatchObject({
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: TOPIC,
    });
    expect(Number(alarm.Threshold)).toBe(5);
    expect(Number(resource(tuned, 'Api5xxRateAlarm').Properties.Threshold)).toBe(2);
    expect(resource(template, 'HttpApi').Type).toBe('AWS::ApiGatewayV2::Api');
  });

  it('alarms on the HTTP API’s p99 latency below the API function’s timeout', () => {
    const alarm = resource(template, 'ApiLatencyP99Alarm').Properties;
    expect(alarm).toMatchObject({
      Namespace: 'AWS/ApiGateway',
      MetricName: 'Latency',
      Dimensions: [{ Name: 'ApiId', Value: { Ref: 'HttpApi' } }],
      ExtendedStatistic: 'p99',
      Period: 300,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: TOPIC,
    });
    const timeoutMs = Number(resource(template, 'ApiLambdaFunction').Properties.Timeout) * 1000;
    expect(Number(alarm.Threshold)).toBe(8000);
    expect(Number(alarm.Threshold)).toBeLessThan(timeoutMs);
    expect(Number(resource(tuned, 'ApiLatencyP99Alarm').Properties.Threshold)).toBe(6000);
  });

  it('gives each new alarm a dashboard widget, with the thresholds drawn from the params', () => {
    const widgets = dashboardWidgets(template);
    const byTitle = (title: string) => {
      const widget = widgets.find((candidate) => candidate.properties.title === title);
      if (widget === undefined) throw new Error(`no widget "${title}"`);
      return widget;
    };
    const names = (widget: Widget) => widget.properties.metrics.map((metric) => metric[1]);
    expect(names(byTitle('Connection refusals seen by the functions (per minute)'))).toEqual([
      'ConnectionRefusals',
      'ConnectionRefusals',
      'ConnectionLimitErrors',
      'ConnectionLimitErrors',
    ]);
    expect(names(byTitle('Server counters between monitor runs'))).toEqual([
      'AbortedConnects',
      'ConnectionErrorsMaxConnections',
      'MaxUsedConnections',
    ]);
    expect(names(byTitle('API: throttles and 5xx rate'))).toEqual(['Throttles', undefined, '5xx', 'Count']);
    expect(names(byTitle("API latency p99 vs the function's timeout (ms)"))).toEqual(['Latency']);
    expect(byTitle("API latency p99 vs the function's timeout (ms)").properties.annotations).toEqual({
      horizontal: [
        { label: 'alarm', value: 8000, color: '#ff9900' },
        { label: 'function timeout', value: 10000, color: '#d13212' },
      ],
    });
    expect(names(byTitle('Function errors'))).toEqual(['Errors', 'Errors', 'Errors']);
    expect(names(byTitle('Kills and monitor runs'))).toEqual(
      expect.arrayContaining(['StoppedStatements', 'KillsLeft']),
    );
    const tunedRefusals = dashboardWidgets(tuned).find(
      (widget) => widget.properties.title === 'Connection refusals seen by the functions (per minute)',
    );
    expect(JSON.stringify(tunedRefusals?.properties.annotations)).toContain('"value":7');
  });
});
