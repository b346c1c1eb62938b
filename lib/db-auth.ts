// The login withConnection presents: a password (local, or the Secrets Manager secret's) or an IAM auth
// token signed for the endpoint. Caches hold secrets and tokens per environment, never a connection;
// a token is never logged and leaves only inside a TLS connection whose certificate was verified.

import { TLSSocket } from 'node:tls';
import type { SignerConfig } from '@aws-sdk/rds-signer';
import type { AuthPlugin } from 'mysql2';
import type { ConnectionOptions } from 'mysql2/promise';
import { type DbConfig, type DbTls, MAX_IAM_TOKEN_CACHE_MS } from './config.js';
import { AppError, ConfigError } from './errors.js';
import { parseDbSecret, type SecretCache, sharedSecretCache } from './secrets.js';

export type Credentials = {
  readonly user: string;
  readonly host: string;
  readonly port: number;
  readonly database: string;
} & (
  | { readonly method: 'password'; readonly password: string }
  | { readonly method: 'iam-token'; readonly token: string }
);

/** What an IAM token is signed for: RDS checks host, port and user against the connection. */
export type AuthTokenRequest = {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly region: string;
};

/** Signs a token (no network: a SigV4 presign with the function's role credentials). */
export type SignAuthToken = (request: AuthTokenRequest) => Promise<string>;

export type AuthTokenCache = {
  /** A token for the request, from the cache while younger than the TTL unless forceRefresh is set. */
  getToken(request: AuthTokenRequest, options?: { forceRefresh?: boolean }): Promise<string>;
  clear(): void;
};

/** Where credentials come from; tests inject fakes, handlers use the environment's shared caches. */
export type CredentialSources = {
  readonly secrets?: SecretCache | undefined;
  readonly authTokens?: AuthTokenCache | undefined;
};

export class AuthTokenError extends AppError {}

export function createAuthTokenCache(options: {
  ttlMs: number;
  sign: SignAuthToken;
  nowMs?: () => number;
}): AuthTokenCache {
  const nowMs = options.nowMs ?? Date.now;
  // Tokens expire 15 minutes after signing: never reuse one for more than 10.
  const ttlMs = Math.min(options.ttlMs, MAX_IAM_TOKEN_CACHE_MS);
  const entries = new Map<string, { readonly token: Promise<string>; readonly signedAtMs: number }>();
  return {
    getToken(request, { forceRefresh = false } = {}) {
      const key = `${request.user}@${request.host}:${request.port}/${request.region}`;
      const cached = entries.get(key);
      if (cached && !forceRefresh && nowMs() - cached.signedAtMs < ttlMs) return cached.token;
      const entry = { token: options.sign(request), signedAtMs: nowMs() };
      entries.set(key, entry);
      // A failed signing is never cached.
      entry.token.catch(() => {
        if (entries.get(key) === entry) entries.delete(key);
      });
      return entry.token;
    },
    clear() {
      entries.clear();
    },
  };
}

/**
 * A signer over @aws-sdk/rds-signer, loaded on first use so that password-mode functions never evaluate
 * it. Credentials: the function role's (the SDK's default chain) unless given. Errors keep the SDK's as
 * `cause` (it names what is missing, never a token).
 */
export function createRdsSigner(credentials?: SignerConfig['credentials']): SignAuthToken {
  return async (request) => {
    try {
      const { Signer } = await import('@aws-sdk/rds-signer');
      return await new Signer({
        hostname: request.host,
        port: request.port,
        username: request.user,
        region: request.region,
        ...(credentials === undefined ? {} : { credentials }),
      }).getAuthToken();
    } catch (error) {
      throw new AuthTokenError(`Could not sign an IAM auth token for ${request.user}`, { cause: error });
    }
  };
}

const tokenCaches = new Map<number, AuthTokenCache>();

/** The execution environment's token cache for a TTL (one per TTL, in practice one). */
export function sharedAuthTokenCache(ttlMs: number): AuthTokenCache {
  let cache = tokenCaches.get(ttlMs);
  if (cache === undefined) {
    cache = createAuthTokenCache({ ttlMs, sign: createRdsSigner() });
    tokenCaches.set(ttlMs, cache);
  }
  return cache;
}

/** True when a 1045 may be a stale secret or token, so fetching or signing a new one is worth one try. */
export function canRefreshCredentials(config: DbConfig): boolean {
  return config.secretId !== undefined || config.auth.mode === 'iam';
}

/**
 * The credentials for one connect. The endpoint is the proxy's when the function goes through one,
 * else the secret's host (RDS secrets always name the writer), else DB_HOST.
 */
export async function resolveCredentials(
  config: DbConfig,
  sources: CredentialSources,
  forceRefresh: boolean,
): Promise<Credentials> {
  if (config.auth.mode === 'iam') {
    const host = config.proxy?.host ?? config.host;
    const port = config.proxy?.port ?? config.port;
    const user = config.user ?? '';
    const tokens = sources.authTokens ?? sharedAuthTokenCache(config.auth.tokenCacheTtlMs);
    const token = await tokens.getToken({ host, port, user, region: config.auth.region }, { forceRefresh });
    return { method: 'iam-token', token, user, host, port, database: config.database };
  }
  if (config.secretId === undefined) {
    return {
      method: 'password',
      user: config.user ?? '',
      password: config.password ?? '',
      host: config.proxy?.host ?? config.host,
      port: config.proxy?.port ?? config.port,
      database: config.database,
    };
  }
  const secrets = sources.secrets ?? sharedSecretCache(config.secretCacheTtlMs);
  const secret = parseDbSecret(config.secretId, await secrets.getString(config.secretId, { forceRefresh }));
  return {
    method: 'password',
    user: secret.username,
    password: secret.password,
    host: config.proxy?.host ?? secret.host ?? config.host,
    port: config.proxy?.port ?? secret.port ?? config.port,
    database: secret.dbname ?? config.database,
  };
}

/**
 * mysql2's password options for the credentials. A token goes only to the server's
 * `mysql_clear_password` request, through our own plugin that checks the socket first: mysql2's
 * `enableCleartextPlugin` would send it whatever the transport.
 */
export function passwordOptions(
  credentials: Credentials,
  tls: DbTls | undefined,
): Pick<ConnectionOptions, 'password' | 'authPlugins'> {
  if (credentials.method === 'password') return { password: credentials.password };
  if (tls === undefined) {
    // loadConfig refuses this combination; a hand-made DbConfig must not get around it.
    throw new ConfigError('DB_AUTH', 'iam needs verified TLS (DB_TLS rds or verify)');
  }
  // No password: mysql2's first answer carries no hash of the token, only the plugin sends it.
  return {
    password: '',
    authPlugins: { mysql_clear_password: clearPasswordOverVerifiedTls(credentials.token) },
  };
}

function clearPasswordOverVerifiedTls(token: string): AuthPlugin {
  return ({ connection }) =>
    () => {
      // mysql2 swaps its `stream` for the TLSSocket once TLS is up (its typings leave the field out).
      const stream: unknown = Reflect.get(connection, 'stream');
      if (!(stream instanceof TLSSocket) || !stream.encrypted || !stream.authorized) {
        throw new AuthTokenError(
          'The server asked for mysql_clear_password on a connection without verified TLS; the IAM token was not sent',
        );
      }
      return Buffer.from(`${token}\0`, 'utf8');
    };
}
