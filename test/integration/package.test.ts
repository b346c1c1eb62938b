import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployedResources, type Resource, type Template } from '../helpers/cloudformation.js';
import { packageInto } from '../helpers/packaged-template.js';

const run = promisify(execFile);

let outputDir: string;
let template: Template;

function resourcesOfType(type: string): Array<[string, Resource]> {
  return Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
}

beforeAll(async () => {
  outputDir = await mkdtemp(join(tmpdir(), 'eclectyc-package-'));
  template = await packageInto(outputDir);
}, 180_000);

afterAll(async () => {
  await rm(outputDir, { recursive: true, force: true });
});

describe('serverless package (offline)', () => {
  it('defines exactly the four functions on nodejs22.x arm64 with their reserved concurrency', () => {
    const functions = Object.fromEntries(
      resourcesOfType('AWS::Lambda::Function').map(([, resource]) => [
        String(resource.Properties.Handler),
        {
          runtime: resource.Properties.Runtime,
          architectures: resource.Properties.Architectures,
          reserved: resource.Properties.ReservedConcurrentExecutions,
          timeout: resource.Properties.Timeout,
        },
      ]),
    );
    expect(functions).toEqual({
      'functions/api.handler': { runtime: 'nodejs22.x', architectures: ['arm64'], reserved: 10, timeout: 10 },
      'functions/process-imports.handler': {
        runtime: 'nodejs22.x',
        architectures: ['arm64'],
        reserved: 1,
        timeout: 300,
      },
      'functions/monitor.handler': {
        runtime: 'nodejs22.x',
        architectures: ['arm64'],
        reserved: 1,
        timeout: 60,
      },
      'functions/s3-upload-arrived.handler': {
        runtime: 'nodejs22.x',
        architectures: ['arm64'],
        reserved: 2,
        timeout: 30,
      },
    });
  });

  it('schedules processImports every minute (and a daily purge) and monitor every five minutes', () => {
    const schedules = resourcesOfType('AWS::Events::Rule').map(([, resource]) => {
      const targets = resource.Properties.Targets as Array<{
        Arn: { 'Fn::GetAtt': [string, string] };
        Input?: string;
      }>;
      return [
        targets[0]?.Arn['Fn::GetAtt'][0],
        resource.Properties.ScheduleExpression,
        targets[0]?.Input ?? null,
      ];
    });
    expect(schedules).toEqual([
      ['ProcessImportsLambdaFunction', 'rate(1 minute)', null],
      ['ProcessImportsLambdaFunction', 'cron(15 3 * * ? *)', '{"task":"purge"}'],
      ['MonitorLambdaFunction', 'rate(5 minutes)', null],
    ]);
  });

  it('routes GET /api/health through the HTTP API to the api function', () => {
    const routes = resourcesOfType('AWS::ApiGatewayV2::Route').map(
      ([, resource]) => resource.Properties.RouteKey,
    );
    expect(routes).toContain('GET /api/health');
    expect(resourcesOfType('AWS::ApiGatewayV2::Api')).toHaveLength(1);
  });

  it('sends every other /api route and the console (/, /console, its assets) to the app router', () => {
    const routes = resourcesOfType('AWS::ApiGatewayV2::Route').map(
      ([, resource]) => resource.Properties.RouteKey,
    );
    expect(routes.sort()).toEqual([
      'ANY /api/{proxy+}',
      'GET /',
      'GET /api/health',
      'GET /console',
      'GET /console/{asset}',
    ]);
  });

  it('configures CORS for the listed origins only, never "*"', () => {
    const [[, api] = ['', undefined]] = resourcesOfType('AWS::ApiGatewayV2::Api');
    expect(api?.Properties.CorsConfiguration).toEqual({
      AllowOrigins: ['https://example.invalid'],
      AllowHeaders: ['Authorization', 'Content-Type', 'Content-Encoding', 'Idempotency-Key'],
      AllowMethods: ['GET', 'POST', 'OPTIONS'],
      ExposeHeaders: ['Location'],
      MaxAge: 600,
    });
    expect(JSON.stringify(api?.Properties.CorsConfiguration)).not.toContain('*');
  });

  it('gives the api function the tokens secret id and the CORS origins', () => {
    const environment = template.Resources.ApiLambdaFunction?.Properties.Environment as
      | { Variables: Record<string, unknown> }
      | undefined;
    const variables = environment?.Variables ?? {};
    expect(variables.API_TOKENS_SECRET_ID).toBe('eclectyc/ci/api-tokens');
    expect(variables.API_TOKEN_HASHES).toBe('');
    expect(variables.CORS_ALLOWED_ORIGINS).toEqual({ 'Fn::Join': [',', ['https://example.invalid']] });
  });

  it('gives each function its own role, reading only the secrets it uses and nothing else from Secrets Manager', () => {
    // A CloudFormation Fn::Sub string: the escaped ${AWS::…} parts are CloudFormation's, not JavaScript's.
    const secretArn = (name: string) =>
      `arn:\${AWS::Partition}:secretsmanager:\${AWS::Region}:\${AWS::AccountId}:secret:eclectyc/ci/${name}-??????`;
    const secretsReadBy = (roleName: string) => {
      const policies = (template.Resources[roleName]?.Properties.Policies ?? []) as Array<{
        PolicyDocument: { Statement: Array<{ Action: string[]; Resource: Array<{ 'Fn::Sub': string }> }> };
      }>;
      const statements = policies
        .flatMap((policy) => policy.PolicyDocument.Statement)
        .filter((statement) => statement.Action.some((action) => action.startsWith('secretsmanager:')));
      expect(statements.flatMap((statement) => statement.Action)).toEqual(['secretsmanager:GetSecretValue']);
      return statements.flatMap((statement) => statement.Resource.map((resource) => resource['Fn::Sub']));
    };
    const roleOf = (fn: string) =>
      (template.Resources[fn]?.Properties.Role as { 'Fn::GetAtt': [string, string] } | undefined)?.[
        'Fn::GetAtt'
      ][0];
    expect(roleOf('ApiLambdaFunction')).toBe('ApiRole');
    expect(roleOf('ProcessImportsLambdaFunction')).toBe('ProcessImportsRole');
    expect(roleOf('MonitorLambdaFunction')).toBe('MonitorRole');
    expect(secretsReadBy('ApiRole')).toEqual([secretArn('db'), secretArn('api-tokens')]);
    expect(secretsReadBy('ProcessImportsRole')).toEqual([secretArn('db')]);
    expect(secretsReadBy('MonitorRole')).toEqual([secretArn('monitor-db'), secretArn('db')]);
    expect(roleOf('S3UploadArrivedLambdaFunction')).toBe('S3UploadArrivedRole');
    expect(secretsReadBy('S3UploadArrivedRole')).toEqual([secretArn('db')]);
    // The RDS Proxy's role exists only with dbProxy=true (package-db-proxy.test.ts).
    expect(
      Object.entries(deployedResources(template))
        .filter(([, resource]) => resource.Type === 'AWS::IAM::Role')
        .map(([name]) => name)
        .sort(),
    ).toEqual(['ApiRole', 'MonitorRole', 'ProcessImportsRole', 'S3UploadArrivedRole']);
    expect(JSON.stringify(template)).not.toContain('secretsmanager:*');
  });

  it('connects every function to the database over verified TLS (the RDS bundle) by default', () => {
    for (const fn of [
      'ApiLambdaFunction',
      'ProcessImportsLambdaFunction',
      'MonitorLambdaFunction',
      'S3UploadArrivedLambdaFunction',
    ]) {
      const environment = template.Resources[fn]?.Properties.Environment as
        | { Variables: Record<string, unknown> }
        | undefined;
      expect({
        fn,
        tls: environment?.Variables.DB_TLS,
        caFile: environment?.Variables.DB_TLS_CA_FILE,
      }).toEqual({
        fn,
        tls: 'rds',
        caFile: '',
      });
    }
  });

  it('keeps each function zip small: the AWS SDK stays out of the bundle', async () => {
    for (const name of ['api', 'processImports', 'monitor', 's3UploadArrived']) {
      const { size } = await stat(join(outputDir, `${name}.zip`));
      expect(size).toBeGreaterThan(50_000);
      expect(size).toBeLessThan(1_000_000);
    }
  });

  it('drops throttled scheduled ticks after a minute instead of queueing them, and never retries them', () => {
    const invokeConfigs = Object.fromEntries(
      resourcesOfType('AWS::Lambda::EventInvokeConfig').map(([, resource]) => [
        (resource.Properties.FunctionName as { Ref: string }).Ref,
        {
          age: resource.Properties.MaximumEventAgeInSeconds,
          retries: resource.Properties.MaximumRetryAttempts,
        },
      ]),
    );
    expect(invokeConfigs).toEqual({
      ProcessImportsLambdaFunction: { age: 60, retries: 0 },
      MonitorLambdaFunction: { age: 60, retries: 0 },
    });
  });
});

/** A Lambda context as the runtime passes it, with a few seconds left. */
const LAMBDA_CONTEXT = `{
  functionName: 'packaged', functionVersion: '$LATEST', invokedFunctionArn: 'arn:aws:lambda:eu-west-2:0:function:packaged',
  memoryLimitInMB: '512', awsRequestId: 'packaged-request', logGroupName: 'g', logStreamName: 's',
  callbackWaitsForEmptyEventLoop: true, getRemainingTimeInMillis: () => 5000,
}`;

/**
 * Loads a packaged handler as the Lambda runtime does (require of the bundle, the function's
 * NODE_OPTIONS, the AWS SDK from the runtime's NODE_PATH), invokes it once against a database port
 * nothing listens on, and prints the error it raised (or the response and the log lines, for the API).
 */
const INVOKE_SCRIPT = `
const { handler } = require(process.env.HANDLER_FILE);
const event = JSON.parse(process.env.EVENT);
Promise.resolve(handler(event, ${LAMBDA_CONTEXT})).then(
  (result) => console.log('RESULT ' + JSON.stringify({ result })),
  (error) => console.log('RESULT ' + JSON.stringify({ error: { name: error.name, stack: error.stack } })),
);
`;

type Invocation = { error?: { name: string; stack: string }; result?: unknown; logs: unknown[] };

async function invokePackaged(
  zipName: string,
  handlerPath: string,
  event: unknown,
  env: Record<string, string>,
): Promise<Invocation> {
  const directory = await mkdtemp(join(tmpdir(), `eclectyc-lambda-${zipName}-`));
  try {
    await run('unzip', ['-q', join(outputDir, `${zipName}.zip`), '-d', directory]);
    const resource = template.Resources[`${zipName[0]?.toUpperCase()}${zipName.slice(1)}LambdaFunction`];
    const functionEnv = (
      resource?.Properties.Environment as { Variables: Record<string, unknown> } | undefined
    )?.Variables;
    const { stdout, stderr } = await run(process.execPath, ['-e', INVOKE_SCRIPT], {
      cwd: directory,
      timeout: 30_000,
      env: {
        PATH: process.env.PATH ?? '',
        // The Node.js runtimes ship AWS SDK v3 on NODE_PATH; the bundle leaves it out.
        NODE_PATH: resolve('node_modules'),
        NODE_OPTIONS: String(functionEnv?.NODE_OPTIONS),
        HANDLER_FILE: join(directory, handlerPath.replace(/\.handler$/, '.cjs')),
        EVENT: JSON.stringify(event),
        DB_HOST: '127.0.0.1',
        DB_PORT: '1', // nothing listens there: the connect is refused
        DB_NAME: 'packaged',
        DB_USER: 'packaged',
        ...env,
      },
    });
    // Powertools writes warnings and errors to stderr, the rest to stdout; Lambda keeps both.
    const lines = `${stdout}\n${stderr}`.split('\n').filter((line) => line.trim() !== '');
    const result = lines.find((line) => line.startsWith('RESULT '));
    if (result === undefined) throw new Error(`the packaged handler printed no result:\n${stdout}`);
    const logs = lines.filter((line) => line.startsWith('{')).map((line): unknown => JSON.parse(line));
    return { ...(JSON.parse(result.slice('RESULT '.length)) as Omit<Invocation, 'logs'>), logs };
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

describe('the packaged bundles, loaded as Lambda loads them', () => {
  it('enables source maps for every function', () => {
    for (const fn of ['ApiLambdaFunction', 'ProcessImportsLambdaFunction', 'MonitorLambdaFunction']) {
      const environment = template.Resources[fn]?.Properties.Environment as {
        Variables: Record<string, unknown>;
      };
      expect({ fn, nodeOptions: environment.Variables.NODE_OPTIONS }).toEqual({
        fn,
        nodeOptions: '--enable-source-maps',
      });
    }
  });

  it.each([
    ['processImports', 'functions/process-imports.handler', {}],
    ['monitor', 'functions/monitor.handler', { MONITOR_DB_USER: 'packaged-monitor' }],
  ])(
    '%s raises errors under their class names, with stack frames naming the TypeScript sources',
    async (zip, handler, env) => {
      const { error } = await invokePackaged(zip, handler, {}, env);
      expect(error?.name).toBe('DatabaseError');
      expect(error?.stack).toMatch(/at toDatabaseError \(.*lib\/errors\.ts:\d+:\d+\)/);
      expect(error?.stack).toMatch(/lib\/db\.ts:\d+:\d+/);
    },
  );

  it('api answers 503 and logs the error by its class name, with frames naming the TypeScript sources', async () => {
    const token = 'packaged-token';
    const event = {
      version: '2.0',
      rawPath: '/api/import/jobs',
      rawQueryString: '',
      headers: { authorization: `Bearer ${token}` },
      requestContext: { http: { method: 'GET', path: '/api/import/jobs' }, requestId: 'packaged-request' },
      isBase64Encoded: false,
    };
    const { result, logs } = await invokePackaged('api', 'functions/api.handler', event, {
      API_TOKEN_HASHES: createHash('sha256').update(token).digest('hex'),
    });
    expect(result).toMatchObject({ statusCode: 503 });
    const logged = logs
      .map((line) => (line as { error?: { name?: string; stack?: string } }).error)
      .find((error) => error !== undefined);
    expect(logged?.name).toBe('DatabaseError');
    expect(logged?.stack).toMatch(/lib\/errors\.ts:\d+:\d+/);
  });
});
