// IAM database authentication end to end against a MySQL-protocol server that logs users in as RDS
// does (auth switch to mysql_clear_password): a real signed token (equal to @aws-sdk/rds-signer's), sent only inside
// verified TLS, checked for shape and expiry, then a query served. And the ways it must not leak.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection, type RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApiHandler } from '../../functions/api.js';
import { hashToken } from '../../lib/auth.js';
import { type DbConfig, loadConfig } from '../../lib/config.js';
import { withConnection } from '../../lib/db.js';
import {
  type AuthTokenCache,
  type AuthTokenRequest,
  createAuthTokenCache,
  createRdsSigner,
  passwordOptions,
} from '../../lib/db-auth.js';
import { ConnectionLimitError, DatabaseError } from '../../lib/errors.js';
import {
  type FakeRdsEndpoint,
  type FakeRdsEndpointOptions,
  type Login,
  startFakeRdsEndpoint,
} from '../helpers/fake-rds-endpoint.js';
import { httpEvent } from '../helpers/http-events.js';
import { fakeContext } from '../helpers/lambda.js';
import { makeTestCertificates, type TestCertificates } from '../helpers/test-certificates.js';

const IAM_USER = 'eclectyc_api';
const API_TOKEN = 'a'.repeat(64);
const REGION = 'eu-west-2';
// Static, made-up credentials: signing is local (SigV4 presign), nothing is sent to AWS.
const TEST_CREDENTIALS = {
  accessKeyId: 'AKIDEXAMPLETESTONLY1',
  secretAccessKey: 'test/secret/key/for/signing/only',
};

let certDir: string;
let certs: TestCertificates;
let tls: { key: string; cert: string };

beforeAll(async () => {
  certDir = await mkdtemp(join(tmpdir(), 'eclectyc-iam-'));
  certs = await makeTestCertificates(certDir, 'IP:127.0.0.1');
  tls = { key: await readFile(certs.keyFile, 'utf8'), cert: await readFile(certs.certFile, 'utf8') };
});

afterAll(async () => {
  await rm(certDir, { recursive: true, force: true });
});

/** The app's config for IAM auth against the endpoint, as the Lambda environment would give it. */
function iamConfig(port: number, overrides: Record<string, string> = {}): DbConfig {
  return loadConfig({ ...iamEnvironment(port), ...overrides }).db;
}

function iamEnvironment(port: number): Record<string, string> {
  return {
    DB_NAME: 'eclectyc',
    DB_HOST: '127.0.0.1',
    DB_PORT: String(port),
    DB_AUTH: 'iam',
    DB_IAM_USER: IAM_USER,
    AWS_REGION: REGION,
    DB_TLS: 'verify',
    DB_TLS_CA_FILE: certs.caFile,
    DB_CONNECT_RETRY_BUDGET_MS: '300',
  };
}

/** A token cache over the real signer, counting signatures. */
function countingTokens(): { tokens: AuthTokenCache; signed: AuthTokenRequest[]; issued: string[] } {
  const sign = createRdsSigner(TEST_CREDENTIALS);
  const signed: AuthTokenRequest[] = [];
  const issued: string[] = [];
  const tokens = createAuthTokenCache({
    ttlMs: 600_000,
    sign: async (request) => {
      signed.push(request);
      const token = await sign(request);
      issued.push(token);
      return token;
    },
  });
  return { tokens, signed, issued };
}

/**
 * What RDS checks of a token before the signature: presigned for rds-db:connect to this endpoint and
 * user, in the region, 15 minutes of validity, signed no later than now (and not long before).
 */
function tokenProblem(token: string, host: string, port: number, user: string): string | undefined {
  const prefix = `${host}:${port}/?`;
  if (!token.startsWith(prefix)) return `does not start with ${prefix}`;
  const query = new URLSearchParams(token.slice(prefix.length));
  if (query.get('Action') !== 'connect') return 'Action is not connect';
  if (query.get('DBUser') !== user) return `DBUser is ${query.get('DBUser')}`;
  if (query.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') return 'not SigV4';
  if (query.get('X-Amz-Expires') !== '900') return `X-Amz-Expires is ${query.get('X-Amz-Expires')}`;
  if (query.get('X-Amz-SignedHeaders') !== 'host') return 'the host header is not signed';
  if (!/^[0-9a-f]{64}$/.test(query.get('X-Amz-Signature') ?? '')) return 'no signature';
  const credential = query.get('X-Amz-Credential') ?? '';
  if (
    !new RegExp(`^${TEST_CREDENTIALS.accessKeyId}/\\d{8}/${REGION}/rds-db/aws4_request$`).test(credential)
  ) {
    return `credential scope is ${credential}`;
  }
  const date = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(query.get('X-Amz-Date') ?? '');
  if (date === null) return 'no X-Amz-Date';
  const [, y, mo, d, h, mi, s] = date.map(Number);
  const signedAtMs = Date.UTC(y ?? 0, (mo ?? 1) - 1, d, h, mi, s);
  const ageMs = Date.now() - signedAtMs;
  if (ageMs < -5_000 || ageMs > 600_000) return `signed ${ageMs} ms ago`;
  return undefined;
}

function acceptValidTokens(
  port: () => number,
): (login: Login) => { errno: number; message: string } | undefined {
  return (login) => {
    const problem = tokenProblem(login.clearPassword ?? '', '127.0.0.1', port(), login.user);
    return problem === undefined ? undefined : { errno: 1045, message: `token ${problem}` };
  };
}

describe('IAM database authentication (DB_AUTH=iam)', () => {
  let endpoint: FakeRdsEndpoint;

  beforeAll(async () => {
    endpoint = await startFakeRdsEndpoint({ tls, authenticate: acceptValidTokens(() => endpoint.port) });
  });

  afterAll(async () => {
    await endpoint.close();
  });

  it('sends a token signed for host, port and user inside verified TLS, then runs the work', async () => {
    const { tokens, signed, issued } = countingTokens();
    const result = await withConnection(
      iamConfig(endpoint.port),
      async (db) => {
        const [rows] = await db.query<RowDataPacket[]>('SELECT 1');
        return rows[0]?.result;
      },
      { authTokens: tokens },
    );
    expect(result).toBe('ok');
    expect(signed).toEqual([{ host: '127.0.0.1', port: endpoint.port, user: IAM_USER, region: REGION }]);
    const [token = ''] = issued;
    expect(tokenProblem(token, '127.0.0.1', endpoint.port, IAM_USER)).toBeUndefined();
    expect(endpoint.logins.at(-1)).toEqual({
      user: IAM_USER,
      database: 'eclectyc',
      tls: true,
      clearPassword: token,
    });
    expect(endpoint.queries.slice(-2)).toEqual([
      "SET SESSION wait_timeout = 40, time_zone = '+00:00'",
      'SELECT 1',
    ]);
    // On the wire the token and its signature travelled encrypted only.
    const signature = new URLSearchParams(token.split('?')[1]).get('X-Amz-Signature') ?? 'missing';
    expect(endpoint.wireBytes().includes(signature)).toBe(false);
    expect(endpoint.wireBytes().includes('X-Amz-')).toBe(false);
  });

  it('reuses the environment’s token for the next invocation instead of signing again', async () => {
    const { tokens, signed } = countingTokens();
    const loginsBefore = endpoint.logins.length;
    for (let invocation = 0; invocation < 3; invocation++) {
      await withConnection(iamConfig(endpoint.port), (db) => db.query('SELECT 1'), { authTokens: tokens });
    }
    expect(signed).toHaveLength(1);
    // Later connects resume the TLS session; the token still goes only over verified TLS.
    expect(endpoint.logins.slice(loginsBefore).map((login) => login.tls)).toEqual([true, true, true]);
  });

  it('signs a new token once when the server refuses one (1045), and the new one is used', async () => {
    const { tokens, issued } = countingTokens();
    let refusals = 1;
    const picky = await startFakeRdsEndpoint({
      tls,
      authenticate: (login) => {
        if (refusals-- > 0) return { errno: 1045, sqlState: '28000', message: 'PAM authentication failed' };
        return acceptValidTokens(() => picky.port)(login);
      },
    });
    try {
      await withConnection(iamConfig(picky.port), (db) => db.query('SELECT 1'), { authTokens: tokens });
      expect(issued).toHaveLength(2);
      expect(picky.logins.map((login) => login.clearPassword)).toEqual(issued);
    } finally {
      await picky.close();
    }
  });

  it('gives up with the 1045 after one fresh token: no loop of signatures and logins', async () => {
    const { tokens, issued } = countingTokens();
    const refusing = await startFakeRdsEndpoint({
      tls,
      authenticate: () => ({ errno: 1045, sqlState: '28000', message: 'PAM authentication failed' }),
    });
    try {
      const error = await withConnection(iamConfig(refusing.port), (db) => db.query('SELECT 1'), {
        authTokens: tokens,
      }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(DatabaseError);
      expect((error as DatabaseError).errno).toBe(1045);
      expect(issued).toHaveLength(2);
      expect(refusing.logins).toHaveLength(2);
      expect(JSON.stringify(error, Object.getOwnPropertyNames(error))).not.toContain('X-Amz-');
    } finally {
      await refusing.close();
    }
  });
});

describe('the token never reaches a log or a response', () => {
  it("through the API handler with the environment's own signer and cache, refused and then served", async () => {
    // The role's credentials as the Lambda runtime sets them; the handler signs with them (no injection).
    vi.stubEnv('AWS_ACCESS_KEY_ID', TEST_CREDENTIALS.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', TEST_CREDENTIALS.secretAccessKey);
    vi.stubEnv('AWS_SESSION_TOKEN', 'session-token-for-signing-only');
    let refuse = true;
    const endpoint = await startFakeRdsEndpoint({
      tls,
      authenticate: () =>
        refuse ? { errno: 1045, sqlState: '28000', message: 'PAM authentication failed' } : undefined,
    });
    const written: string[] = [];
    const capture = (chunk: unknown) => {
      written.push(String(chunk));
      return true;
    };
    // The logger writes to stdout itself; console.* goes through the test runner, so it is caught too.
    const spies = [
      vi.spyOn(process.stdout, 'write').mockImplementation(capture),
      vi.spyOn(process.stderr, 'write').mockImplementation(capture),
      ...(['log', 'info', 'warn', 'error', 'debug'] as const).map((level) =>
        vi.spyOn(console, level).mockImplementation((...args: unknown[]) => capture(args.join(' '))),
      ),
    ];
    try {
      const handler = createApiHandler(
        loadConfig({ ...iamEnvironment(endpoint.port), API_TOKEN_HASHES: hashToken(API_TOKEN) }),
      );
      // An authenticated route: its database failure goes through the error logging.
      const refused = await handler(
        httpEvent('GET', '/api/import/jobs', { headers: { authorization: `Bearer ${API_TOKEN}` } }),
        fakeContext(5000),
      );
      refuse = false;
      const served = await handler(httpEvent('GET', '/api/health'), fakeContext(5000));
      for (const spy of spies) spy.mockRestore();
      expect(refused.statusCode).toBeGreaterThanOrEqual(500);
      expect(served.statusCode).toBeLessThan(500);
      // Tokens were signed and sent (two refused, then one accepted), and the failure was logged.
      expect(endpoint.logins.map((login) => login.clearPassword?.startsWith('127.0.0.1:'))).toEqual([
        true,
        true,
        true,
      ]);
      const logs = written.join('');
      expect(logs).toContain('1045');
      for (const text of [logs, JSON.stringify(refused), JSON.stringify(served)]) {
        expect(text).not.toContain('X-Amz-');
        expect(text).not.toContain(TEST_CREDENTIALS.secretAccessKey);
        expect(text).not.toContain('session-token-for-signing-only');
      }
    } finally {
      for (const spy of spies) spy.mockRestore();
      vi.unstubAllEnvs();
      await endpoint.close();
    }
  });
});

describe('the token never crosses plain TCP', () => {
  it('refuses DB_AUTH=iam with DB_TLS=off at cold start', () => {
    expect(() => iamConfig(3306, { DB_TLS: 'off', DB_TLS_CA_FILE: '' })).toThrow(
      /DB_AUTH: iam .* verified TLS/,
    );
  });

  it('fails before logging in when the server does not offer TLS', async () => {
    const { tokens, issued } = countingTokens();
    const plain = await startFakeRdsEndpoint({ authenticate: () => undefined });
    try {
      const error = await withConnection(iamConfig(plain.port), (db) => db.query('SELECT 1'), {
        authTokens: tokens,
      }).catch((caught: unknown) => caught);
      expect(error).toMatchObject({ code: 'HANDSHAKE_NO_SSL_SUPPORT' });
      expect(plain.logins).toEqual([]);
      expect(issued).toHaveLength(1);
      expect(plain.wireBytes().includes(issued[0] ?? 'missing')).toBe(false);
      expect(plain.wireBytes().includes('X-Amz-')).toBe(false);
    } finally {
      await plain.close();
    }
  });

  it('fails before logging in when the server’s certificate does not verify', async () => {
    const { tokens } = countingTokens();
    const endpoint = await startFakeRdsEndpoint({ tls, authenticate: () => undefined });
    try {
      // DB_TLS=verify without the test CA: Node's public roots do not know it.
      const config = iamConfig(endpoint.port, { DB_TLS_CA_FILE: '' });
      const error = await withConnection(config, (db) => db.query('SELECT 1'), { authTokens: tokens }).catch(
        (caught: unknown) => caught,
      );
      expect(error).toMatchObject({ code: 'HANDSHAKE_SSL_ERROR' });
      expect(endpoint.logins).toEqual([]);
    } finally {
      await endpoint.close();
    }
  });

  it('sends no token to a server whose verified certificate names another host (the host is an IP)', async () => {
    // The certificate chains to the configured CA but names someone else: for a password mysql2's
    // chain-only check of an IP host is the documented compromise; a token must not go there.
    const otherDir = await mkdtemp(join(tmpdir(), 'eclectyc-iam-other-'));
    const other = await makeTestCertificates(otherDir, 'DNS:elsewhere.invalid');
    const { tokens, issued } = countingTokens();
    const endpoint = await startFakeRdsEndpoint({
      tls: { key: await readFile(other.keyFile, 'utf8'), cert: await readFile(other.certFile, 'utf8') },
      authenticate: () => undefined,
    });
    try {
      const config = iamConfig(endpoint.port, { DB_TLS_CA_FILE: other.caFile });
      const error = await withConnection(config, (db) => db.query('SELECT 1'), { authTokens: tokens }).catch(
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(Error);
      expect(issued).toHaveLength(1);
      expect(endpoint.logins.map((login) => login.clearPassword)).not.toContain(issued[0]);
    } finally {
      await endpoint.close();
      await rm(otherDir, { recursive: true, force: true });
    }
  });

  it('has its clear-password plugin refuse a plain socket even when asked on one', async () => {
    // Bypass withConnection: mysql2 with our auth options but no `ssl`, against a server that asks for
    // the clear-text password over plain TCP. The plugin checks the socket itself.
    const endpoint = await startFakeRdsEndpoint({ authenticate: () => undefined });
    const token = `127.0.0.1:${endpoint.port}/?Action=connect&DBUser=${IAM_USER}&X-Amz-Signature=secret-part`;
    try {
      const credentials = {
        method: 'iam-token',
        token,
        user: IAM_USER,
        host: '127.0.0.1',
        port: endpoint.port,
        database: 'eclectyc',
      } as const;
      const tlsConfig = iamConfig(endpoint.port).tls;
      const error = await createConnection({
        host: '127.0.0.1',
        port: endpoint.port,
        user: IAM_USER,
        connectTimeout: 2000,
        ...passwordOptions(credentials, tlsConfig),
      }).catch((caught: unknown) => caught);
      expect(error).toMatchObject({ code: 'AUTH_SWITCH_PLUGIN_ERROR' });
      expect(String((error as Error).message)).toContain('the IAM token was not sent');
      expect(endpoint.logins).toEqual([]);
      expect(endpoint.wireBytes().includes('secret-part')).toBe(false);
      expect(endpoint.wireBytes().includes(IAM_USER)).toBe(true); // the tap did see the login
    } finally {
      await endpoint.close();
    }
  });
});

const BORROW_TIMEOUT = { errno: 9501, message: 'Timed-out waiting to acquire database connection' };

/** Runs `work` with an IAM config whose DB_PROXY_ENDPOINT is a fake proxy of these options; closes it after. */
async function behindFakeProxy(
  options: Omit<FakeRdsEndpointOptions, 'tls'>,
  work: (proxy: FakeRdsEndpoint, config: DbConfig) => Promise<void>,
): Promise<void> {
  const proxy = await startFakeRdsEndpoint({ tls, ...options });
  try {
    await work(proxy, iamConfig(1, { DB_PROXY_ENDPOINT: `127.0.0.1:${proxy.port}` }));
  } finally {
    await proxy.close();
  }
}

describe('behind RDS Proxy with IAM (DB_PROXY_ENDPOINT)', () => {
  it('signs for the proxy endpoint, skips the session SET and never prepares', async () => {
    const { tokens, signed } = countingTokens();
    const proxy = await startFakeRdsEndpoint({ tls, authenticate: acceptValidTokens(() => proxy.port) });
    try {
      // DB_HOST stays the writer (here a port nobody listens on): only the proxy endpoint is used.
      const config = iamConfig(1, { DB_PROXY_ENDPOINT: `127.0.0.1:${proxy.port}` });
      await withConnection(
        config,
        async (db) => {
          await db.execute('SELECT ? AS n', [7]);
        },
        { authTokens: tokens },
      );
      expect(signed).toEqual([{ host: '127.0.0.1', port: proxy.port, user: IAM_USER, region: REGION }]);
      expect(proxy.queries).toEqual(['SELECT 7 AS n']);
      expect(proxy.prepares).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  it('turns the proxy’s borrow timeout (9501) during work into ConnectionLimitError', async () => {
    const { tokens } = countingTokens();
    const answer = () => BORROW_TIMEOUT;
    await behindFakeProxy({ authenticate: () => undefined, answer }, async (proxy, config) => {
      const error = await withConnection(config, (db) => db.query('SELECT 1'), { authTokens: tokens }).catch(
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(ConnectionLimitError);
      expect(error).toMatchObject({ errno: 9501, attempts: 1, retryAfterSeconds: 1 });
      expect(proxy.queries).toEqual(['SELECT 1']);
    });
  });

  it('counts a refusal during work in the connection metrics, as one refused and given up', async () => {
    const { tokens } = countingTokens();
    const answer = () => BORROW_TIMEOUT;
    await behindFakeProxy({ authenticate: () => undefined, answer }, async (_proxy, config) => {
      const events: string[] = [];
      const connectionEvents = {
        refused: (errno: number) => events.push(`refused ${errno}`),
        gaveUp: () => events.push('gave up'),
      };
      await withConnection(config, (db) => db.query('SELECT 1'), {
        authTokens: tokens,
        connectionEvents,
      }).catch(() => undefined);
      expect(events).toEqual(['refused 9501', 'gave up']);
    });
  });

  it('retries a borrow timeout (9501) at login like a connection limit, then answers ConnectionLimitError', async () => {
    const { tokens } = countingTokens();
    await behindFakeProxy({ authenticate: () => BORROW_TIMEOUT }, async (proxy, config) => {
      const error = await withConnection(config, (db) => db.query('SELECT 1'), { authTokens: tokens }).catch(
        (caught: unknown) => caught,
      );
      expect(error, String(error)).toBeInstanceOf(ConnectionLimitError);
      expect(proxy.logins.length).toBeGreaterThan(1);
      expect(error).toMatchObject({ errno: 9501, attempts: proxy.logins.length });
      expect(proxy.queries).toEqual([]);
    });
  });

  for (const message of [
    'Connections rate limit exceeded (limit: 10)',
    'IAM authentication rate limit exceeded',
  ]) {
    it(`retries the proxy’s 1040 "${message}" at login, then answers ConnectionLimitError`, async () => {
      const { tokens } = countingTokens();
      await behindFakeProxy({ authenticate: () => ({ errno: 1040, message }) }, async (proxy, config) => {
        const error = await withConnection(config, (db) => db.query('SELECT 1'), {
          authTokens: tokens,
        }).catch((caught: unknown) => caught);
        expect(error, String(error)).toBeInstanceOf(ConnectionLimitError);
        expect((error as ConnectionLimitError).errno).toBe(1040);
        expect(proxy.logins.length).toBeGreaterThan(1);
        expect((error as ConnectionLimitError).attempts).toBe(proxy.logins.length);
      });
    });
  }
});
