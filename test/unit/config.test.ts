import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { ConfigError } from '../../lib/errors.js';

const LOCAL = { DB_NAME: 'eclectyc', DB_USER: 'app', DB_PASSWORD: 'pw' };

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig(LOCAL);
    expect(config.db).toMatchObject({
      host: '127.0.0.1',
      port: 3306,
      database: 'eclectyc',
      user: 'app',
      password: 'pw',
      secretId: undefined,
      connectTimeoutMs: 5000,
      sessionWaitTimeoutSeconds: 40,
      secretCacheTtlMs: 300_000,
    });
    expect(config.functionName).toBe('local');
    expect(config.db.programName).toBe('local');
  });

  it('derives the session wait_timeout from the function timeout plus a margin', () => {
    expect(loadConfig({ ...LOCAL, FUNCTION_TIMEOUT_S: '300' }).db.sessionWaitTimeoutSeconds).toBe(310);
    expect(
      loadConfig({ ...LOCAL, FUNCTION_TIMEOUT_S: '300', DB_SESSION_WAIT_TIMEOUT_S: '45' }).db
        .sessionWaitTimeoutSeconds,
    ).toBe(45);
  });

  it('prefers the secret over local credentials', () => {
    const config = loadConfig({ ...LOCAL, DB_SECRET_ID: 'eclectyc/prod/db' });
    expect(config.db.secretId).toBe('eclectyc/prod/db');
    expect(config.db.user).toBeUndefined();
    expect(config.db.password).toBeUndefined();
  });

  it('names the function in the program_name connect attribute', () => {
    expect(loadConfig({ ...LOCAL, AWS_LAMBDA_FUNCTION_NAME: 'eclectyc-prod-api' }).db.programName).toBe(
      'eclectyc-prod-api',
    );
  });

  it('returns a frozen object', () => {
    const config = loadConfig(LOCAL);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.db)).toBe(true);
  });

  it('names DB_NAME when it is missing', () => {
    expect(() => loadConfig({ DB_USER: 'app' })).toThrow(new ConfigError('DB_NAME', 'is required'));
  });

  it('names DB_SECRET_ID when neither a secret nor a user is given', () => {
    expect(() => loadConfig({ DB_NAME: 'x' })).toThrow(/^DB_SECRET_ID: /);
  });

  it.each([
    ['DB_PORT', 'abc', /DB_PORT: must be a whole number/],
    ['DB_PORT', '70000', /DB_PORT: must be between 1 and 65535/],
    ['DB_CONNECT_TIMEOUT_MS', '-5', /DB_CONNECT_TIMEOUT_MS: must be a whole number/],
    ['FUNCTION_TIMEOUT_S', '0', /FUNCTION_TIMEOUT_S: must be between 1 and 900/],
  ])('rejects %s=%s with an error naming the variable', (name, value, message) => {
    expect(() => loadConfig({ ...LOCAL, [name]: value })).toThrow(message);
  });
});
