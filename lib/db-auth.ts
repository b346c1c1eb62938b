// The login withConnection presents: a password (local, or the Secrets Manager secret's) or an IAM auth
// token signed for the endpoint. Caches hold secrets and tokens per environment, never a connection;
// a token is never logged and leaves only inside a TLS connection whose certificate was verified.

import { createHash, createHmac } from 'node:crypto';
import { checkServerIdentity, TLSSocket } from 'node:tls';
import type { AuthPlugin } from 'mysql2';
import type { ConnectionOptions } from 'mysql2/promise';
import { type DbConfig, type DbTls, MAX_IAM_TOKEN_CACHE_MS } from './config.js';
import { AppError, ConfigError } from './errors.js';
import { createTtlCache, parseDbSecret, type SecretCache, sharedSecretCache } from './secrets.js';

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
  // Tokens expire 15 minutes after signing: never reuse one for more than 10.
  const cache = createTtlCache<string>(Math.min(options.ttlMs, MAX_IAM_TOKEN_CACHE_MS), options.nowMs);
  return {
    getToken(request, { forceRefresh = false } = {}) {
      const key = `${request.user}@${request.host}:${request.port}/${request.region}`;
      return cache.get(key, () => options.sign(request), forceRefresh);
    },
    clear: () => cache.clear(),
  };
}

/** AWS credentials as the Lambda runtime gives a function's role (environment variables). */
export type AwsCredentials = {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string | undefined;
};

/** An IAM auth token lives this long after signing (RDS's fixed 15 minutes). */
const TOKEN_LIFETIME_SECONDS = 900;

/**
 * Signs IAM auth tokens locally: a SigV4 presigned `GET https://host:port/?Action=connect&DBUser=…` for
 * the service `rds-db`, byte for byte what @aws-sdk/rds-signer produces (test/unit/db-auth.test.ts),
 * without the SDK (docs/design.md#rds-proxy-and-iam-authentication). Credentials: the role's, from the
 * variables the Lambda runtime sets, unless given.
 */
export function createRdsSigner(credentials?: AwsCredentials, nowMs: () => number = Date.now): SignAuthToken {
  return async (request) => {
    const { accessKeyId, secretAccessKey, sessionToken } = credentials ?? credentialsFromEnvironment();
    const amzDate = new Date(nowMs()).toISOString().replace(/[-:]|\.\d{3}/g, '');
    const day = amzDate.slice(0, 8);
    const scope = `${day}/${request.region}/rds-db/aws4_request`;
    const params: Array<[string, string]> = [
      ['Action', 'connect'],
      ['DBUser', request.user],
      ['X-Amz-Algorithm', 'AWS4-HMAC-SHA256'],
      ['X-Amz-Credential', `${accessKeyId}/${scope}`],
      ['X-Amz-Date', amzDate],
      ['X-Amz-Expires', String(TOKEN_LIFETIME_SECONDS)],
      ['X-Amz-SignedHeaders', 'host'],
    ];
    if (sessionToken !== undefined) params.push(['X-Amz-Security-Token', sessionToken]);
    const host = `${request.host}:${request.port}`;
    const canonicalRequest = ['GET', '/', canonicalQuery(params), `host:${host}`, '', 'host', sha256Hex('')];
    const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest.join('\n'))];
    let key: Buffer = hmac(`AWS4${secretAccessKey}`, day);
    for (const part of [request.region, 'rds-db', 'aws4_request']) key = hmac(key, part);
    const signature = createHmac('sha256', key).update(stringToSign.join('\n'), 'utf8').digest('hex');
    return `${host}/?${canonicalQuery([...params, ['X-Amz-Signature', signature]])}`;
  };
}

function credentialsFromEnvironment(): AwsCredentials {
  const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new AuthTokenError(
      'Could not sign an IAM auth token: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set',
    );
  }
  return { accessKeyId, secretAccessKey, sessionToken: process.env.AWS_SESSION_TOKEN || undefined };
}

/** Names and values percent-encoded, sorted by name: SigV4's canonical query (and the token's order). */
function canonicalQuery(params: ReadonlyArray<readonly [string, string]>): string {
  return params
    .map(([name, value]) => [uriEncode(name), uriEncode(value)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

/** RFC 3986 percent-encoding, as SigV4 canonicalises query names and values. */
function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
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
    authPlugins: { mysql_clear_password: clearPasswordOverVerifiedTls(credentials.token, credentials.host) },
  };
}

/**
 * The certificate must also name the host, even when that is an IP address: mysql2 checks only the chain
 * for an IP (lib/db.ts sslOptions), which is enough for a password but would hand the token to any server
 * holding a certificate from the same CA (any RDS instance's, with DB_TLS=rds).
 */
function clearPasswordOverVerifiedTls(token: string, host: string): AuthPlugin {
  return ({ connection }) =>
    () => {
      // mysql2 swaps its `stream` for the TLSSocket once TLS is up (its typings leave the field out).
      const stream: unknown = Reflect.get(connection, 'stream');
      if (!(stream instanceof TLSSocket) || !stream.encrypted || !stream.authorized) {
        throw new AuthTokenError(
          'The server asked for mysql_clear_password on a connection without verified TLS; the IAM token was not sent',
        );
      }
      if (checkServerIdentity(host, stream.getPeerCertificate()) !== undefined) {
        throw new AuthTokenError(
          "The server's certificate does not name the host it was reached at; the IAM token was not sent",
        );
      }
      return Buffer.from(`${token}\0`, 'utf8');
    };
}
