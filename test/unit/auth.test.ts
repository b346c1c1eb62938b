import * as crypto from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import {
  createAuthenticator,
  hashToken,
  isAllowedToken,
  parseBearerToken,
  parseTokenSecret,
} from '../../lib/auth.js';
import { HttpError } from '../../lib/errors.js';
import { createSecretCache, SecretError } from '../../lib/secrets.js';

// timingSafeEqual wrapped in a spy, to prove every allowed hash is compared.
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

const TOKEN = 'f3c9a1e07d5b4c2a9e8f7d6c5b4a3928171605f4e3d2c1b0a9f8e7d6c5b4a392';
const OTHER = 'another-token-0123456789';

function digests(...tokens: string[]): Buffer[] {
  return tokens.map((token) => Buffer.from(hashToken(token), 'hex'));
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('hashToken', () => {
  it('is the SHA-256 hex digest of the token, as `printf %s "$TOKEN" | sha256sum` prints it', () => {
    expect(hashToken('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('parseBearerToken', () => {
  it.each([
    ['Bearer abc.DEF-123_~+/==', 'abc.DEF-123_~+/=='],
    ['bearer abc', 'abc'],
    ['Bearer   abc  ', 'abc'],
  ])('reads the token from %j', (header, token) => {
    expect(parseBearerToken(header)).toBe(token);
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['another scheme', 'Basic dXNlcjpwYXNz'],
    ['no token', 'Bearer'],
    ['two tokens', 'Bearer a b'],
    ['a comma-joined repeat', 'Bearer a,Bearer b'],
    ['a character outside b64token', 'Bearer a"b'],
    ['an overlong token', `Bearer ${'a'.repeat(513)}`],
  ])('refuses a header that is %s', (_, header) => {
    expect(parseBearerToken(header)).toBeUndefined();
  });
});

describe('isAllowedToken', () => {
  it('accepts a token whose hash is any entry, the last one included', () => {
    expect(isAllowedToken(TOKEN, digests(OTHER, TOKEN))).toBe(true);
    expect(isAllowedToken(TOKEN, digests(TOKEN))).toBe(true);
  });

  it('refuses a token whose hash is no entry, and refuses everything with no entries', () => {
    expect(isAllowedToken(TOKEN, digests(OTHER, 'third'))).toBe(false);
    expect(isAllowedToken(TOKEN, [])).toBe(false);
  });

  it('compares with every entry even after a match (no early exit)', () => {
    const spy = vi.mocked(crypto.timingSafeEqual);
    spy.mockClear();
    expect(isAllowedToken(TOKEN, digests(TOKEN, OTHER, 'third', 'fourth'))).toBe(true);
    expect(spy).toHaveBeenCalledTimes(4);
  });

  it('treats an entry of the wrong length as no match instead of throwing', () => {
    expect(isAllowedToken(TOKEN, [Buffer.alloc(16), ...digests(OTHER)])).toBe(false);
  });
});

describe('parseTokenSecret', () => {
  const hash = hashToken(TOKEN);

  it('reads the token_sha256 list, lower-cased', () => {
    expect(parseTokenSecret('s', JSON.stringify({ token_sha256: [hash.toUpperCase(), hash] }))).toEqual([
      hash,
      hash,
    ]);
  });

  it.each([
    ['not JSON', '{', 'Secret s is not JSON'],
    ['without the list', '{"tokens":[]}', 'Secret s has no "token_sha256" list'],
    [
      'with a string for the list',
      '{"token_sha256":"abc"}',
      'Secret s has a "token_sha256" that is not a list',
    ],
  ])('refuses a secret %s', (_, text, message) => {
    expect(() => parseTokenSecret('s', text)).toThrow(new SecretError(message));
  });

  it('names a bad entry by position, never by value', () => {
    const secretValue = 'not-a-hash-but-maybe-a-raw-token';
    let error: unknown;
    try {
      parseTokenSecret('s', JSON.stringify({ token_sha256: [hash, secretValue] }));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(SecretError);
    expect(String(error)).toContain('token_sha256[1] is not a 64-character hex digest');
    expect(String(error)).not.toContain(secretValue);
  });
});

describe('createAuthenticator', () => {
  const unusedSecrets = createSecretCache({
    ttlMs: 60_000,
    fetchSecret: async () => {
      throw new Error('no secret expected');
    },
  });

  it('accepts a listed token and refuses others with 401 and WWW-Authenticate: Bearer', async () => {
    const auth = createAuthenticator(
      { tokensSecretId: undefined, tokenHashes: [hashToken(TOKEN)] },
      unusedSecrets,
    );
    expect(auth.configured).toBe(true);
    await expect(auth.authenticate({ authorization: `Bearer ${TOKEN}` })).resolves.toBeUndefined();
    for (const headers of [{}, { authorization: `Bearer ${OTHER}` }, { authorization: TOKEN }]) {
      const error = await rejection(auth.authenticate(headers));
      expect(error).toBeInstanceOf(HttpError);
      expect(error).toMatchObject({
        statusCode: 401,
        message: 'Unauthorized',
        headers: { 'www-authenticate': 'Bearer' },
      });
    }
  });

  it('fails closed when no token is configured: every token is refused', async () => {
    const auth = createAuthenticator({ tokensSecretId: undefined, tokenHashes: [] }, unusedSecrets);
    expect(auth.configured).toBe(false);
    const error = await rejection(auth.authenticate({ authorization: `Bearer ${TOKEN}` }));
    expect(error).toMatchObject({ statusCode: 401 });
  });

  it('reads the hashes from the secret through the cache, and not at all for a missing header', async () => {
    const fetched: string[] = [];
    const secrets = createSecretCache({
      ttlMs: 60_000,
      fetchSecret: async (secretId) => {
        fetched.push(secretId);
        return JSON.stringify({ token_sha256: [hashToken(OTHER), hashToken(TOKEN)] });
      },
    });
    const auth = createAuthenticator(
      { tokensSecretId: 'eclectyc/test/api-tokens', tokenHashes: [] },
      secrets,
    );
    expect(auth.configured).toBe(true);
    expect(await rejection(auth.authenticate({}))).toMatchObject({ statusCode: 401 });
    expect(fetched).toEqual([]);
    await auth.authenticate({ authorization: `Bearer ${TOKEN}` });
    await auth.authenticate({ authorization: `Bearer ${OTHER}` });
    expect(await rejection(auth.authenticate({ authorization: 'Bearer wrong' }))).toMatchObject({
      statusCode: 401,
    });
    expect(fetched).toEqual(['eclectyc/test/api-tokens']);
  });

  it('fails closed with a SecretError (a 500, not a pass) when the secret is malformed', async () => {
    const secrets = createSecretCache({ ttlMs: 60_000, fetchSecret: async () => '{"token_sha256":["x"]}' });
    const auth = createAuthenticator(
      { tokensSecretId: 'eclectyc/test/api-tokens', tokenHashes: [] },
      secrets,
    );
    expect(await rejection(auth.authenticate({ authorization: `Bearer ${TOKEN}` }))).toBeInstanceOf(
      SecretError,
    );
  });
});
