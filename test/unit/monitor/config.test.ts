import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../lib/config.js';
import { ConfigError } from '../../../lib/errors.js';
import { resolveTargetUsers } from '../../../lib/monitor/target-users.js';
import { createSecretCache } from '../../../lib/secrets.js';

const APP = { DB_NAME: 'eclectyc', DB_USER: 'app', DB_PASSWORD: 'pw' };
const MONITOR = { ...APP, MONITOR_DB_USER: 'monitor', MONITOR_DB_PASSWORD: 'mpw' };

describe('loadConfig: monitor section', () => {
  it('is undefined without MONITOR_DB_SECRET_ID or MONITOR_DB_USER, so the other functions still load', () => {
    expect(loadConfig(APP).monitor).toBeUndefined();
    expect(
      loadConfig({ ...APP, MAX_IDLE_SECONDS: 'not read without a monitor user' }).monitor,
    ).toBeUndefined();
  });

  it('applies the documented defaults, a dry run unless KILL_IDLE says otherwise', () => {
    const monitor = loadConfig(MONITOR).monitor;
    expect(monitor).toMatchObject({
      targetUsers: { from: 'list', users: ['app'] },
      maxIdleSeconds: 300,
      maxIdleInTransactionSeconds: 900,
      emergencyMaxIdleSeconds: 60,
      usageCautionPercent: 60,
      usageWarningPercent: 80,
      killIdle: false,
      importSchema: 'eclectyc',
    });
  });

  it('logs in as the monitor user on the app’s host and port, with no default schema', () => {
    const config = loadConfig({ ...MONITOR, DB_HOST: 'db.internal', DB_PORT: '3307' });
    expect(config.monitor?.db).toMatchObject({
      host: 'db.internal',
      port: 3307,
      database: '',
      user: 'monitor',
      password: 'mpw',
      secretId: undefined,
    });
    expect(config.db.user).toBe('app');
  });

  it('prefers MONITOR_DB_SECRET_ID over local monitor credentials', () => {
    const monitor = loadConfig({ ...MONITOR, MONITOR_DB_SECRET_ID: 'eclectyc/prod/monitor-db' }).monitor;
    expect(monitor?.db).toMatchObject({
      secretId: 'eclectyc/prod/monitor-db',
      user: undefined,
      password: undefined,
    });
  });

  it('targets the listed users when MONITOR_TARGET_USERS is set', () => {
    expect(loadConfig({ ...MONITOR, MONITOR_TARGET_USERS: ' app , reports,' }).monitor?.targetUsers).toEqual({
      from: 'list',
      users: ['app', 'reports'],
    });
  });

  it('targets the app secret’s username when the app logs in with DB_SECRET_ID', () => {
    const monitor = loadConfig({ ...MONITOR, DB_SECRET_ID: 'eclectyc/prod/db' }).monitor;
    expect(monitor?.targetUsers).toEqual({ from: 'app-secret', secretId: 'eclectyc/prod/db' });
  });

  it.each([
    ['true', true],
    ['1', true],
    ['YES', true],
    ['false', false],
    ['0', false],
    ['no', false],
  ])('reads KILL_IDLE=%s as %s', (value, expected) => {
    expect(loadConfig({ ...MONITOR, KILL_IDLE: value }).monitor?.killIdle).toBe(expected);
  });

  it.each([
    ['KILL_IDLE', 'sometimes'],
    ['MAX_IDLE_SECONDS', '0'],
    ['MAX_IDLE_SECONDS', '5m'],
    ['MAX_IDLE_IN_TRANSACTION_SECONDS', '-1'],
    ['EMERGENCY_MAX_IDLE_SECONDS', 'x'],
    ['USAGE_CAUTION_PERCENT', '101'],
    ['USAGE_WARNING_PERCENT', '0'],
  ])('names %s when it is %s', (name, value) => {
    expect(() => loadConfig({ ...MONITOR, [name]: value })).toThrow(new RegExp(`^${name}: `));
  });

  it('requires the warning threshold above the caution one', () => {
    expect(() =>
      loadConfig({ ...MONITOR, USAGE_CAUTION_PERCENT: '80', USAGE_WARNING_PERCENT: '80' }),
    ).toThrow(ConfigError);
  });

  it('refuses a DB_NAME it could not name safely in SQL', () => {
    expect(() => loadConfig({ ...MONITOR, DB_NAME: 'eclectyc`; DROP' })).toThrow(/^DB_NAME: /);
  });

  it("sums the app-user functions' reserved concurrency into the budget it compares with", () => {
    const config = loadConfig({
      ...MONITOR,
      BUDGET_DB_MAX_USER_CONNECTIONS: '30',
      BUDGET_APP_USER_CONCURRENCY: '10, 1',
    });
    expect(config.monitor?.budget).toEqual({
      assumedMaxUserConnections: 30,
      appUserConnections: 11,
      headroom: 2,
    });
    expect(loadConfig(MONITOR).monitor?.budget).toBeUndefined();
  });

  it("behind RDS Proxy counts the proxy's pool (a share of max_connections) instead of the API", () => {
    const config = loadConfig({
      ...MONITOR,
      BUDGET_DB_MAX_USER_CONNECTIONS: '60',
      BUDGET_APP_USER_CONCURRENCY: '1,2',
      BUDGET_DB_PROXY: 'true',
      BUDGET_PROXY_MAX_CONNECTIONS_PERCENT: '50',
      BUDGET_DB_MAX_CONNECTIONS: '91',
    });
    // floor(91 × 50 %) = 45, plus processImports 1 and s3UploadArrived 2.
    expect(config.monitor?.budget).toEqual({
      assumedMaxUserConnections: 60,
      appUserConnections: 48,
      headroom: 2,
    });
    expect(() =>
      loadConfig({
        ...MONITOR,
        BUDGET_DB_MAX_USER_CONNECTIONS: '60',
        BUDGET_DB_PROXY: 'true',
        BUDGET_PROXY_MAX_CONNECTIONS_PERCENT: '50',
        BUDGET_DB_MAX_CONNECTIONS: '',
      }),
    ).toThrow(/^BUDGET_DB_MAX_CONNECTIONS: is required/);
    // Without the proxy the percentage (always passed by serverless.yml) changes nothing.
    expect(
      loadConfig({
        ...MONITOR,
        BUDGET_DB_MAX_USER_CONNECTIONS: '30',
        BUDGET_APP_USER_CONCURRENCY: '10,1,2',
        BUDGET_DB_PROXY: 'false',
        BUDGET_PROXY_MAX_CONNECTIONS_PERCENT: '50',
        BUDGET_DB_MAX_CONNECTIONS: '',
      }).monitor?.budget,
    ).toEqual({ assumedMaxUserConnections: 30, appUserConnections: 13, headroom: 2 });
  });

  it('names BUDGET_APP_USER_CONCURRENCY when an entry is not a number', () => {
    expect(() =>
      loadConfig({ ...MONITOR, BUDGET_DB_MAX_USER_CONNECTIONS: '30', BUDGET_APP_USER_CONCURRENCY: '10,x' }),
    ).toThrow(/^BUDGET_APP_USER_CONCURRENCY: "x" is not a whole number$/);
  });

  it('returns frozen sections', () => {
    const monitor = loadConfig(MONITOR).monitor;
    expect(Object.isFrozen(monitor)).toBe(true);
    expect(Object.isFrozen(monitor?.db)).toBe(true);
  });
});

describe('resolveTargetUsers', () => {
  it('returns a list as given without reading any secret', async () => {
    const secrets = createSecretCache({
      ttlMs: 1000,
      fetchSecret: () => Promise.reject(new Error('must not be called')),
    });
    expect(await resolveTargetUsers({ from: 'list', users: ['app'] }, secrets)).toEqual(['app']);
  });

  it('reads the app user’s name from the app secret', async () => {
    const requested: string[] = [];
    const secrets = createSecretCache({
      ttlMs: 1000,
      fetchSecret: async (secretId) => {
        requested.push(secretId);
        return JSON.stringify({ username: 'eclectyc_app', password: 'not used' });
      },
    });
    expect(await resolveTargetUsers({ from: 'app-secret', secretId: 'eclectyc/prod/db' }, secrets)).toEqual([
      'eclectyc_app',
    ]);
    expect(requested).toEqual(['eclectyc/prod/db']);
  });
});

describe('loadConfig: the kill controls', () => {
  it('defaults to no runaway-statement rule, no never-kill list and at most 50 kills a run', () => {
    expect(loadConfig(MONITOR).monitor).toMatchObject({
      maxBusySeconds: undefined,
      neverKill: { programNames: [], hostPatterns: [] },
      maxKillsPerRun: 50,
    });
  });

  it('reads MAX_BUSY_SECONDS (0 is off), MAX_KILLS_PER_RUN and the never-kill entries', () => {
    const monitor = loadConfig({
      ...MONITOR,
      MAX_BUSY_SECONDS: '120',
      MAX_KILLS_PER_RUN: '5',
      MONITOR_NEVER_KILL: 'program:eclectyc-prod-processImports, host:10.0.9.*,host:bastion:22',
    }).monitor;
    expect(monitor).toMatchObject({
      maxBusySeconds: 120,
      maxKillsPerRun: 5,
      neverKill: { programNames: ['eclectyc-prod-processImports'], hostPatterns: ['10.0.9.*', 'bastion:22'] },
    });
    expect(loadConfig({ ...MONITOR, MAX_BUSY_SECONDS: '0' }).monitor?.maxBusySeconds).toBeUndefined();
  });

  it.each([
    ['MONITOR_NEVER_KILL', 'eclectyc-prod-api'],
    ['MONITOR_NEVER_KILL', 'program:'],
    ['MONITOR_NEVER_KILL', 'user:app'],
    ['MAX_KILLS_PER_RUN', '0'],
    ['MAX_BUSY_SECONDS', '-5'],
  ])('refuses %s=%s, naming the variable', (name, value) => {
    expect(() => loadConfig({ ...MONITOR, [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ ...MONITOR, [name]: value })).toThrow(name);
  });
});
