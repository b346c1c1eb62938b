// The packaged template with --param dbProxy=true and --param dbAuth=iam: the proxy and its target
// group, only the API on the proxy endpoint, rds-db:connect scoped to the one user, the proxy alarms.
// Conditions are evaluated as a deploy would (test/helpers/cloudformation.ts).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployedResources, type Resource, resolveIfs, type Template } from '../helpers/cloudformation.js';
import { packageInto } from '../helpers/packaged-template.js';

const directories: string[] = [];

// A CloudFormation Fn::Sub string: the escaped ${AWS::…} parts are CloudFormation's, not JavaScript's.
const DB_USER_ARN_PREFIX = `arn:\${AWS::Partition}:rds-db:\${AWS::Region}:\${AWS::AccountId}:dbuser:`;
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-2:123456789012:secret:eclectyc/ci/db-AbCdEf';
const IAM = [
  '--param',
  'dbAuth=iam',
  '--param',
  'dbIamUser=eclectyc_app',
  '--param',
  'dbResourceId=db-ABCDEFGHIJKL',
];
const PROXY = [
  '--param',
  'dbProxy=true',
  '--param',
  'dbProxyInstanceId=eclectyc-ci',
  '--param',
  `dbProxySecretArn=${SECRET_ARN}`,
  '--param',
  'dbProxySubnetIds=subnet-a,subnet-b',
  '--param',
  'dbProxySecurityGroupIds=sg-proxy',
];

/** Packages into a temp dir of this file's (removed after all); returns the template. */
async function packageTemplate(extraArgs: string[]): Promise<Template> {
  const directory = await mkdtemp(join(tmpdir(), 'eclectyc-package-proxy-'));
  directories.push(directory);
  return packageInto(directory, extraArgs);
}

let proxied: Template;
let iamDirect: Template;

beforeAll(async () => {
  // dbEngine=mariadb on the run without a proxy: its (undeployed) target group shows the MariaDB InitQuery.
  [proxied, iamDirect] = await Promise.all([
    packageTemplate([...PROXY, ...IAM]),
    packageTemplate([...IAM, '--param', 'dbEngine=mariadb']),
  ]);
}, 300_000);

afterAll(async () => {
  for (const directory of directories) await rm(directory, { recursive: true, force: true });
});

function variables(template: Template, fn: string): Record<string, unknown> {
  const environment = template.Resources[fn]?.Properties.Environment as {
    Variables: Record<string, unknown>;
  };
  return resolveIfs(template, environment.Variables) as Record<string, unknown>;
}

function deployed(template: Template, type: string): Array<[string, Resource]> {
  return Object.entries(deployedResources(template)).filter(([, resource]) => resource.Type === type);
}

/** A target group's properties with Fn::If resolved and an Fn::Join of plain strings joined. */
function targetGroupProperties(template: Template): Record<string, unknown> {
  const join = (value: unknown): unknown => {
    const parts = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
    return parts?.[1].every((part) => typeof part === 'string') ? parts[1].join(parts[0]) : value;
  };
  const properties = resolveIfs(template, template.Resources.DbProxyTargetGroup?.Properties) as {
    ConnectionPoolConfigurationInfo: Record<string, unknown>;
  };
  const pool = properties.ConnectionPoolConfigurationInfo;
  return { ...properties, ConnectionPoolConfigurationInfo: { ...pool, InitQuery: join(pool.InitQuery) } };
}

function isRef(value: unknown, name: string): boolean {
  return JSON.stringify(value) === JSON.stringify({ Ref: name });
}

/** The rds-db:connect ARN a role's policy grants, with Fn::If resolved and Fn::Sub left as text. */
function rdsDbConnect(template: Template, role: string): unknown[] {
  return deployed(template, 'AWS::IAM::Policy')
    .filter(([, policy]) => (policy.Properties.Roles as unknown[]).some((r) => isRef(r, role)))
    .flatMap(([, policy]) => {
      const document = resolveIfs(template, policy.Properties.PolicyDocument) as {
        Statement: Array<{ Action: string; Resource: unknown }>;
      };
      return document.Statement.filter((statement) => statement.Action === 'rds-db:connect').map(
        (s) => s.Resource,
      );
    });
}

describe('serverless package --param dbProxy=true --param dbAuth=iam', () => {
  it('creates one proxy for MySQL that requires TLS and IAM, logging in to the database with the app secret', () => {
    const proxies = deployed(proxied, 'AWS::RDS::DBProxy');
    expect(proxies.map(([name]) => name)).toEqual(['DbProxy']);
    const properties = resolveIfs(proxied, proxies[0]?.[1].Properties);
    expect(properties).toMatchObject({
      DBProxyName: 'eclectyc-ci',
      EngineFamily: 'MYSQL',
      RequireTLS: true,
      IdleClientTimeout: 30,
      RoleArn: { 'Fn::GetAtt': ['DbProxyRole', 'Arn'] },
      VpcSubnetIds: { 'Fn::Split': [',', 'subnet-a,subnet-b'] },
      VpcSecurityGroupIds: { 'Fn::Split': [',', 'sg-proxy'] },
      Auth: [{ AuthScheme: 'SECRETS', SecretArn: SECRET_ARN, IAMAuth: 'REQUIRED' }],
    });
    const role = deployedResources(proxied).DbProxyRole;
    expect(JSON.stringify(role?.Properties.AssumeRolePolicyDocument)).toContain('rds.amazonaws.com');
    expect(JSON.stringify(role?.Properties.Policies)).toContain(SECRET_ARN);
  });

  it('gives the target group a pool share, a borrow timeout below the API timeout and the session InitQuery', () => {
    const groups = deployed(proxied, 'AWS::RDS::DBProxyTargetGroup');
    expect(groups).toHaveLength(1);
    const properties = targetGroupProperties(proxied);
    expect(properties).toEqual({
      DBProxyName: { Ref: 'DbProxy' },
      TargetGroupName: 'default',
      DBClusterIdentifiers: { Ref: 'AWS::NoValue' },
      DBInstanceIdentifiers: ['eclectyc-ci'],
      ConnectionPoolConfigurationInfo: {
        MaxConnectionsPercent: 50,
        MaxIdleConnectionsPercent: 25,
        ConnectionBorrowTimeout: 5,
        // Fixed at the API's timeout: per-invocation bounds would pin (docs/design.md#rds-proxy-and-iam-authentication).
        InitQuery: "SET time_zone = '+00:00', innodb_lock_wait_timeout = 10, max_execution_time = 10000",
      },
    });
    const apiTimeout = proxied.Resources.ApiLambdaFunction?.Properties.Timeout;
    const pool = properties.ConnectionPoolConfigurationInfo as { ConnectionBorrowTimeout: number };
    expect(pool.ConnectionBorrowTimeout).toBeLessThan(Number(apiTimeout));
  });

  it("bounds MariaDB's statements with max_statement_time (seconds) in the InitQuery", () => {
    expect(targetGroupProperties(iamDirect).ConnectionPoolConfigurationInfo).toMatchObject({
      InitQuery: "SET time_zone = '+00:00', innodb_lock_wait_timeout = 10, max_statement_time = 10",
    });
  });

  it('points only the API at the proxy endpoint; processImports and monitor keep the writer', () => {
    expect(variables(proxied, 'ApiLambdaFunction').DB_PROXY_ENDPOINT).toEqual({
      'Fn::GetAtt': ['DbProxy', 'Endpoint'],
    });
    for (const fn of [
      'ProcessImportsLambdaFunction',
      'S3UploadArrivedLambdaFunction',
      'MonitorLambdaFunction',
    ]) {
      const env = variables(proxied, fn);
      expect({ fn, proxy: env.DB_PROXY_ENDPOINT, host: env.DB_HOST }).toEqual({
        fn,
        proxy: undefined,
        host: '127.0.0.1',
      });
    }
    expect(variables(proxied, 'ApiLambdaFunction')).toMatchObject({
      DB_AUTH: 'iam',
      DB_IAM_USER: 'eclectyc_app',
    });
    // The monitor's live budget check counts the proxy's pool instead of the API, as npm run budget does.
    expect(variables(proxied, 'MonitorLambdaFunction')).toMatchObject({
      BUDGET_APP_USER_CONCURRENCY: '1,2',
      BUDGET_DB_PROXY: 'true',
      BUDGET_PROXY_MAX_CONNECTIONS_PERCENT: '50',
    });
    expect(variables(iamDirect, 'MonitorLambdaFunction')).toMatchObject({
      BUDGET_APP_USER_CONCURRENCY: '10,1,2',
      BUDGET_DB_PROXY: 'false',
    });
  });

  it('lets the API connect as exactly the IAM user on the proxy, processImports and s3UploadArrived on the database, the monitor not at all', () => {
    const [apiGrant] = rdsDbConnect(proxied, 'ApiRole');
    expect(apiGrant).toEqual({
      'Fn::Join': [
        '',
        [
          { 'Fn::Sub': DB_USER_ARN_PREFIX },
          { 'Fn::Select': [6, { 'Fn::Split': [':', { 'Fn::GetAtt': ['DbProxy', 'DBProxyArn'] }] }] },
          '/eclectyc_app',
        ],
      ],
    });
    for (const role of ['ProcessImportsRole', 'S3UploadArrivedRole']) {
      expect({ role, grants: rdsDbConnect(proxied, role) }).toEqual({
        role,
        grants: [{ 'Fn::Sub': `${DB_USER_ARN_PREFIX}db-ABCDEFGHIJKL/eclectyc_app` }],
      });
    }
    expect(rdsDbConnect(proxied, 'MonitorRole')).toEqual([]);
    expect(JSON.stringify(proxied)).not.toMatch(/dbuser:[^"]*\*/);
  });

  it('alarms on pinned sessions, borrow latency and client connections against the connections allowed', () => {
    const alarms = Object.fromEntries(
      deployed(proxied, 'AWS::CloudWatch::Alarm')
        .filter(([name]) => name.startsWith('DbProxy'))
        .map(([name, alarm]) => [name, alarm.Properties]),
    );
    expect(Object.keys(alarms).sort()).toEqual([
      'DbProxyBorrowLatencyAlarm',
      'DbProxyClientConnectionsAlarm',
      'DbProxySessionPinnedAlarm',
    ]);
    expect(alarms.DbProxySessionPinnedAlarm).toMatchObject({
      Namespace: 'AWS/RDS',
      MetricName: 'DatabaseConnectionsCurrentlySessionPinned',
      Dimensions: [{ Name: 'ProxyName', Value: { Ref: 'DbProxy' } }],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [{ Ref: 'AlarmTopic' }],
    });
    expect(alarms.DbProxyBorrowLatencyAlarm).toMatchObject({
      MetricName: 'DatabaseConnectionsBorrowLatency',
      Threshold: 100000,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    const metrics = (alarms.DbProxyClientConnectionsAlarm as { Metrics: Array<Record<string, unknown>> })
      .Metrics;
    expect(
      metrics.map(
        (metric) => (metric.MetricStat as { Metric?: { MetricName?: string } })?.Metric?.MetricName,
      ),
    ).toEqual(['ClientConnections', 'MaxDatabaseConnectionsAllowed', undefined]);
    expect(metrics[2]).toMatchObject({ Expression: '100 * clients / allowed', ReturnData: true });
    expect(alarms.DbProxyClientConnectionsAlarm).toMatchObject({ Threshold: 100 });
    const dashboard = deployedResources(proxied).DbProxyDashboard;
    const body = JSON.stringify(dashboard?.Properties.DashboardBody);
    for (const metric of [
      'ClientConnections',
      'MaxDatabaseConnectionsAllowed',
      'DatabaseConnectionsBorrowLatency',
      'DatabaseConnectionsCurrentlySessionPinned',
    ]) {
      expect(body).toContain(metric);
    }
  });
});

describe('serverless package --param dbAuth=iam (no proxy)', () => {
  it('creates no proxy, role, alarm or dashboard for it, and no function gets a proxy endpoint', () => {
    const names = Object.keys(deployedResources(iamDirect));
    expect(names.filter((name) => name.startsWith('DbProxy'))).toEqual([]);
    for (const fn of [
      'ApiLambdaFunction',
      'ProcessImportsLambdaFunction',
      'S3UploadArrivedLambdaFunction',
      'MonitorLambdaFunction',
    ]) {
      expect(variables(iamDirect, fn).DB_PROXY_ENDPOINT ?? '').toBe('');
    }
  });

  it('lets the API and processImports connect as exactly the IAM user on the database', () => {
    const onDatabase = DB_USER_ARN_PREFIX;
    expect(rdsDbConnect(iamDirect, 'ApiRole')).toEqual([
      { 'Fn::Join': ['', [{ 'Fn::Sub': onDatabase }, 'db-ABCDEFGHIJKL', '/eclectyc_app']] },
    ]);
    for (const role of ['ProcessImportsRole', 'S3UploadArrivedRole']) {
      expect({ role, grants: rdsDbConnect(iamDirect, role) }).toEqual({
        role,
        grants: [{ 'Fn::Sub': `${onDatabase}db-ABCDEFGHIJKL/eclectyc_app` }],
      });
    }
    expect(rdsDbConnect(iamDirect, 'MonitorRole')).toEqual([]);
  });
});
