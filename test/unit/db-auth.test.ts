import { Signer } from '@aws-sdk/rds-signer';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import {
  type AuthTokenRequest,
  createAuthTokenCache,
  createRdsSigner,
  passwordOptions,
  resolveCredentials,
} from '../../lib/db-auth.js';
import { ConfigError } from '../../lib/errors.js';
import { createSecretCache } from '../../lib/secrets.js';

const REQUEST: AuthTokenRequest = {
  host: 'db.example.invalid',
  port: 3306,
  user: 'eclectyc_api',
  region: 'eu-west-2',
};

function signer() {
  const calls: AuthTokenRequest[] = [];
  return {
    calls,
    sign: async (request: AuthTokenRequest) => {
      calls.push(request);
      return `token-${calls.length}`;
    },
  };
}

describe('the IAM auth token signer', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** AWS's own signer (a dev dependency only) at the same instant, as the reference token. */
  async function awsToken(
    request: AuthTokenRequest,
    credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
    atMs: number,
  ) {
    vi.useFakeTimers({ now: atMs, toFake: ['Date'] });
    try {
      return await new Signer({
        hostname: request.host,
        port: request.port,
        username: request.user,
        region: request.region,
        credentials,
      }).getAuthToken();
    } finally {
      vi.useRealTimers();
    }
  }

  it('signs exactly the token @aws-sdk/rds-signer signs, with and without a session token', async () => {
    const atMs = Date.UTC(2026, 10, 30, 23, 59, 58);
    const cases = [
      {
        request: REQUEST,
        credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalr/K7MDENG+bPxRfiCY' },
      },
      {
        // Characters SigV4 must percent-encode, in the user, the token and the proxy host.
        request: {
          host: 'p.proxy-abc.eu-west-2.rds.amazonaws.com',
          port: 13306,
          user: "app+iam_o'k",
          region: 'us-east-1',
        },
        credentials: {
          accessKeyId: 'ASIAEXAMPLE',
          secretAccessKey: 'secret/with+slash=',
          sessionToken: 'FwoGZXIvYXdzE//session+token=(x)*!',
        },
      },
    ];
    for (const { request, credentials } of cases) {
      const ours = await createRdsSigner(credentials, () => atMs)(request);
      expect(ours).toBe(await awsToken(request, credentials, atMs));
      expect(ours).toContain('X-Amz-Date=20261130T235958Z');
    }
  });

  it("reads the role's credentials from the Lambda environment, and names what is missing", async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'ASIAENVEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'env-secret');
    vi.stubEnv('AWS_SESSION_TOKEN', 'env-session');
    try {
      const atMs = Date.UTC(2026, 0, 2, 3, 4, 5);
      const fromEnv = await createRdsSigner(undefined, () => atMs)(REQUEST);
      const credentials = {
        accessKeyId: 'ASIAENVEXAMPLE',
        secretAccessKey: 'env-secret',
        sessionToken: 'env-session',
      };
      expect(fromEnv).toBe(await createRdsSigner(credentials, () => atMs)(REQUEST));
      vi.stubEnv('AWS_SECRET_ACCESS_KEY', '');
      await expect(createRdsSigner()(REQUEST)).rejects.toThrow(/AWS_SECRET_ACCESS_KEY/);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe('the IAM auth token cache', () => {
  it('reuses a token within its TTL and signs a new one after it', async () => {
    let nowMs = 0;
    const { calls, sign } = signer();
    const cache = createAuthTokenCache({ ttlMs: 60_000, sign, nowMs: () => nowMs });
    expect(await cache.getToken(REQUEST)).toBe('token-1');
    nowMs = 59_999;
    expect(await cache.getToken(REQUEST)).toBe('token-1');
    nowMs = 60_000;
    expect(await cache.getToken(REQUEST)).toBe('token-2');
    expect(calls).toHaveLength(2);
  });

  it('never keeps a token longer than 10 minutes, whatever TTL it is given', async () => {
    let nowMs = 0;
    const { sign } = signer();
    const cache = createAuthTokenCache({ ttlMs: 3_600_000, sign, nowMs: () => nowMs });
    await cache.getToken(REQUEST);
    nowMs = 599_999;
    expect(await cache.getToken(REQUEST)).toBe('token-1');
    nowMs = 600_000;
    expect(await cache.getToken(REQUEST)).toBe('token-2');
  });

  it('signs again on forceRefresh and keeps one token per endpoint and user', async () => {
    const { calls, sign } = signer();
    const cache = createAuthTokenCache({ ttlMs: 600_000, sign });
    await cache.getToken(REQUEST);
    expect(await cache.getToken(REQUEST, { forceRefresh: true })).toBe('token-2');
    expect(await cache.getToken({ ...REQUEST, port: 3307 })).toBe('token-3');
    expect(await cache.getToken({ ...REQUEST, user: 'other' })).toBe('token-4');
    expect(await cache.getToken(REQUEST)).toBe('token-2');
    expect(calls).toHaveLength(4);
  });

  it('does not cache a failed signing', async () => {
    let fail = true;
    const cache = createAuthTokenCache({
      ttlMs: 600_000,
      sign: async () => {
        if (fail) throw new Error('no credentials');
        return 'token';
      },
    });
    await expect(cache.getToken(REQUEST)).rejects.toThrow('no credentials');
    fail = false;
    expect(await cache.getToken(REQUEST)).toBe('token');
  });
});

describe('resolveCredentials', () => {
  const iamEnv = {
    DB_NAME: 'eclectyc',
    DB_HOST: 'writer.example.invalid',
    DB_AUTH: 'iam',
    DB_IAM_USER: 'eclectyc_api',
    AWS_REGION: 'eu-west-2',
    DB_TLS: 'rds',
  };

  it('signs for the writer when going straight to the server, with no secret involved', async () => {
    const { calls, sign } = signer();
    const secrets = createSecretCache({
      ttlMs: 1000,
      fetchSecret: async () => Promise.reject(new Error('unused')),
    });
    const credentials = await resolveCredentials(
      loadConfig(iamEnv).db,
      { secrets, authTokens: createAuthTokenCache({ ttlMs: 600_000, sign }) },
      false,
    );
    expect(credentials).toEqual({
      method: 'iam-token',
      token: 'token-1',
      user: 'eclectyc_api',
      host: 'writer.example.invalid',
      port: 3306,
      database: 'eclectyc',
    });
    expect(calls).toEqual([
      { host: 'writer.example.invalid', port: 3306, user: 'eclectyc_api', region: 'eu-west-2' },
    ]);
  });

  it('lets the proxy endpoint win over the secret’s host with password auth', async () => {
    const secret = JSON.stringify({
      username: 'app',
      password: 'pw',
      host: 'writer.example.invalid',
      port: 3306,
    });
    const secrets = createSecretCache({ ttlMs: 1000, fetchSecret: async () => secret });
    const config = loadConfig({
      DB_NAME: 'eclectyc',
      DB_SECRET_ID: 'eclectyc/prod/db',
      DB_PROXY_ENDPOINT: 'eclectyc-prod.proxy-abc.eu-west-2.rds.amazonaws.com',
    }).db;
    const credentials = await resolveCredentials(config, { secrets }, false);
    expect(credentials).toMatchObject({
      method: 'password',
      user: 'app',
      password: 'pw',
      host: 'eclectyc-prod.proxy-abc.eu-west-2.rds.amazonaws.com',
      port: 3306,
    });
  });
});

describe('passwordOptions', () => {
  const credentials = {
    method: 'iam-token',
    token: 'host:3306/?Action=connect',
    user: 'u',
    host: 'host',
    port: 3306,
    database: 'd',
  } as const;

  it('sends no password and offers the token only through the clear-password plugin', () => {
    const options = passwordOptions(
      credentials,
      loadConfig({ DB_NAME: 'd', DB_USER: 'u', DB_TLS: 'rds' }).db.tls,
    );
    expect(options.password).toBe('');
    expect(Object.keys(options.authPlugins ?? {})).toEqual(['mysql_clear_password']);
    expect(JSON.stringify(options)).not.toContain('Action=connect');
  });

  it('refuses a token without TLS even from a hand-made config', () => {
    expect(() => passwordOptions(credentials, undefined)).toThrow(ConfigError);
  });
});
