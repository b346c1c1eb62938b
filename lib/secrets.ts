// Reads secrets from AWS Secrets Manager and caches them per execution environment with a TTL.
// The cache holds secret *values* only: never a connection, a pool or anything with a socket.

import {
  GetSecretValueCommand,
  type GetSecretValueCommandOutput,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { AppError } from './errors.js';

export class SecretError extends AppError {}

export type SecretCache = {
  /** The secret's string, from the cache while younger than the TTL unless forceRefresh is set. */
  getString(secretId: string, options?: { forceRefresh?: boolean }): Promise<string>;
  clear(): void;
};

/**
 * Values loaded by key and kept while younger than the TTL: Secrets Manager strings here, IAM auth
 * tokens in db-auth.ts. Concurrent callers share one in-flight load; a failed load is never cached.
 */
export type TtlCache<T> = {
  get(key: string, load: () => Promise<T>, forceRefresh: boolean): Promise<T>;
  clear(): void;
};

export function createTtlCache<T>(ttlMs: number, nowMs: () => number = Date.now): TtlCache<T> {
  const entries = new Map<string, { readonly value: Promise<T>; readonly loadedAtMs: number }>();
  return {
    get(key, load, forceRefresh) {
      const cached = entries.get(key);
      if (cached && !forceRefresh && nowMs() - cached.loadedAtMs < ttlMs) return cached.value;
      const entry = { value: load(), loadedAtMs: nowMs() };
      entries.set(key, entry);
      entry.value.catch(() => {
        if (entries.get(key) === entry) entries.delete(key);
      });
      return entry.value;
    },
    clear() {
      entries.clear();
    },
  };
}

export function createSecretCache(options: {
  ttlMs: number;
  fetchSecret: (secretId: string) => Promise<string>;
  nowMs?: () => number;
}): SecretCache {
  const cache = createTtlCache<string>(options.ttlMs, options.nowMs);
  return {
    async getString(secretId, { forceRefresh = false } = {}) {
      return cache.get(secretId, () => options.fetchSecret(secretId), forceRefresh);
    },
    clear: () => cache.clear(),
  };
}

let client: SecretsManagerClient | undefined;

/** Fetches a secret's string from Secrets Manager; the SDK client is made on first use. */
export async function fetchSecretString(secretId: string): Promise<string> {
  client ??= new SecretsManagerClient({});
  let response: GetSecretValueCommandOutput;
  try {
    response = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
  } catch (error) {
    throw new SecretError(`Could not read secret ${secretId}`, { cause: error });
  }
  if (typeof response.SecretString !== 'string') {
    throw new SecretError(`Secret ${secretId} has no SecretString (binary secrets are not supported)`);
  }
  return response.SecretString;
}

const caches = new Map<number, SecretCache>();

/** The execution environment's shared cache for a TTL (one per TTL, in practice one). */
export function sharedSecretCache(ttlMs: number): SecretCache {
  let cache = caches.get(ttlMs);
  if (!cache) {
    cache = createSecretCache({ ttlMs, fetchSecret: fetchSecretString });
    caches.set(ttlMs, cache);
  }
  return cache;
}

export type DbSecret = {
  readonly username: string;
  readonly password: string;
  readonly host: string | undefined;
  readonly port: number | undefined;
  readonly dbname: string | undefined;
};

/** Parses an RDS-style secret; errors name the field, never its value. */
export function parseDbSecret(secretId: string, text: string): DbSecret {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SecretError(`Secret ${secretId} is not JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null)
    throw new SecretError(`Secret ${secretId} is not a JSON object`);
  const fields = parsed as Record<string, unknown>;
  const { username, password, host, port, dbname } = fields;
  if (typeof username !== 'string' || username === '') {
    throw new SecretError(`Secret ${secretId} has no string "username"`);
  }
  if (typeof password !== 'string') throw new SecretError(`Secret ${secretId} has no string "password"`);
  const portNumber = typeof port === 'string' && /^\d+$/.test(port) ? Number(port) : port;
  if (portNumber !== undefined && (typeof portNumber !== 'number' || !Number.isInteger(portNumber))) {
    throw new SecretError(`Secret ${secretId} has a "port" that is not a whole number`);
  }
  if (host !== undefined && typeof host !== 'string')
    throw new SecretError(`Secret ${secretId} has a non-string "host"`);
  if (dbname !== undefined && typeof dbname !== 'string') {
    throw new SecretError(`Secret ${secretId} has a non-string "dbname"`);
  }
  return {
    username,
    password,
    host: host === '' ? undefined : host,
    port: portNumber,
    dbname: dbname === '' ? undefined : dbname,
  };
}
