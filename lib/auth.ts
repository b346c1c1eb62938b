// Bearer-token authentication for the HTTP API: hashes the presented token and compares it with the
// allowed SHA-256 hashes in constant time. Pure except for reading the hash list from Secrets Manager
// (through the cache); it never logs, stores or echoes a token or the Authorization header.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiConfig } from './config.js';
import { HttpError } from './errors.js';
import { type SecretCache, SecretError } from './secrets.js';

/** RFC 6750 b64token; longer than this is not a token we issue. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
const MAX_TOKEN_CHARS = 512;
const SHA256_HEX = /^[0-9a-f]{64}$/i;

export type Authenticator = {
  /** False when neither a secret nor local hashes are configured: every request is refused. */
  readonly configured: boolean;
  /** Resolves when the headers carry an accepted token; otherwise throws the 401 HttpError. */
  authenticate(headers: Readonly<Record<string, string>>): Promise<void>;
};

export function unauthorized(): HttpError {
  return new HttpError(401, 'Unauthorized', undefined, { 'www-authenticate': 'Bearer' });
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The token of an `Authorization: Bearer <token>` header, or undefined when absent or malformed. */
export function parseBearerToken(header: string | undefined): string | undefined {
  if (header === undefined || header.length > MAX_TOKEN_CHARS + 16) return undefined;
  const token = BEARER.exec(header)?.[1];
  return token === undefined || token.length > MAX_TOKEN_CHARS ? undefined : token;
}

/**
 * True when the token's SHA-256 equals one of the allowed digests (32-byte Buffers). Every entry is
 * compared, with no early exit, so the time taken does not tell which entry (if any) matched.
 */
export function isAllowedToken(token: string, allowedDigests: readonly Buffer[]): boolean {
  const presented = createHash('sha256').update(token, 'utf8').digest();
  let matched = false;
  for (const allowed of allowedDigests) {
    const equal = allowed.length === presented.length && timingSafeEqual(presented, allowed);
    matched = equal || matched;
  }
  return matched;
}

/** Parses the tokens secret `{"token_sha256": ["<64 hex>", ...]}`; errors name the field, never a value. */
export function parseTokenSecret(secretId: string, text: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SecretError(`Secret ${secretId} is not JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || !('token_sha256' in parsed)) {
    throw new SecretError(`Secret ${secretId} has no "token_sha256" list`);
  }
  const list: unknown = parsed.token_sha256;
  if (!Array.isArray(list))
    throw new SecretError(`Secret ${secretId} has a "token_sha256" that is not a list`);
  return list.map((entry: unknown, index) => {
    if (typeof entry !== 'string' || !SHA256_HEX.test(entry)) {
      throw new SecretError(`Secret ${secretId}: token_sha256[${index}] is not a 64-character hex digest`);
    }
    return entry.toLowerCase();
  });
}

export function createAuthenticator(
  config: Pick<ApiConfig, 'tokensSecretId' | 'tokenHashes'>,
  secrets: SecretCache,
): Authenticator {
  const { tokensSecretId } = config;
  const localDigests = config.tokenHashes.map((hash) => Buffer.from(hash, 'hex'));
  const allowedDigests = async (): Promise<Buffer[]> => {
    if (tokensSecretId === undefined) return localDigests;
    const hashes = parseTokenSecret(tokensSecretId, await secrets.getString(tokensSecretId));
    return hashes.map((hash) => Buffer.from(hash, 'hex'));
  };
  return {
    configured: tokensSecretId !== undefined || localDigests.length > 0,
    async authenticate(headers) {
      const token = parseBearerToken(headers.authorization);
      if (token === undefined) throw unauthorized();
      if (!isAllowedToken(token, await allowedDigests())) throw unauthorized();
    },
  };
}
