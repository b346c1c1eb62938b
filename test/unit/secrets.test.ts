import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { createSecretCache, fetchSecretString, parseDbSecret, SecretError } from '../../lib/secrets.js';

const secretsManager = mockClient(SecretsManagerClient);

afterEach(() => {
  secretsManager.reset();
});

describe('createSecretCache', () => {
  it('fetches once within the TTL and again after it', async () => {
    let nowMs = 0;
    let fetches = 0;
    const cache = createSecretCache({
      ttlMs: 1000,
      nowMs: () => nowMs,
      fetchSecret: async () => `v${++fetches}`,
    });
    expect(await cache.getString('s')).toBe('v1');
    nowMs = 999;
    expect(await cache.getString('s')).toBe('v1');
    nowMs = 1000;
    expect(await cache.getString('s')).toBe('v2');
  });

  it('refetches when forced', async () => {
    let fetches = 0;
    const cache = createSecretCache({ ttlMs: 60_000, fetchSecret: async () => `v${++fetches}` });
    await cache.getString('s');
    expect(await cache.getString('s', { forceRefresh: true })).toBe('v2');
    expect(await cache.getString('s')).toBe('v2');
  });

  it('shares one in-flight fetch between concurrent callers', async () => {
    let fetches = 0;
    const cache = createSecretCache({ ttlMs: 60_000, fetchSecret: async () => `v${++fetches}` });
    const values = await Promise.all([cache.getString('s'), cache.getString('s'), cache.getString('s')]);
    expect(values).toEqual(['v1', 'v1', 'v1']);
    expect(fetches).toBe(1);
  });

  it('does not cache a failed fetch', async () => {
    let fetches = 0;
    const cache = createSecretCache({
      ttlMs: 60_000,
      fetchSecret: async () => {
        fetches++;
        if (fetches === 1) throw new Error('throttled');
        return 'ok';
      },
    });
    await expect(cache.getString('s')).rejects.toThrow('throttled');
    expect(await cache.getString('s')).toBe('ok');
  });
});

describe('fetchSecretString', () => {
  it('reads SecretString through GetSecretValue', async () => {
    secretsManager
      .on(GetSecretValueCommand, { SecretId: 'eclectyc/test/db' })
      .resolves({ SecretString: '{"a":1}' });
    expect(await fetchSecretString('eclectyc/test/db')).toBe('{"a":1}');
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('wraps an SDK failure with the secret id and keeps the cause', async () => {
    const denied = new Error('AccessDeniedException');
    secretsManager.on(GetSecretValueCommand).rejects(denied);
    const error = await fetchSecretString('eclectyc/test/db').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SecretError);
    expect((error as Error).message).toBe('Could not read secret eclectyc/test/db');
    expect((error as Error).cause).toBeInstanceOf(Error);
  });

  it('rejects a binary secret', async () => {
    secretsManager.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1]) });
    await expect(fetchSecretString('bin')).rejects.toThrow(/no SecretString/);
  });
});

describe('parseDbSecret', () => {
  it('reads the RDS secret format, port as number or string', () => {
    expect(
      parseDbSecret('s', '{"username":"app","password":"pw","host":"db.example","port":"3307","dbname":"e"}'),
    ).toEqual({ username: 'app', password: 'pw', host: 'db.example', port: 3307, dbname: 'e' });
    expect(parseDbSecret('s', '{"username":"app","password":"pw","port":3306}').port).toBe(3306);
  });

  it('names a missing field without echoing the secret', () => {
    let message = '';
    try {
      parseDbSecret('s', '{"username":"app","pass":"hunter2"}');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toBe('Secret s has no string "password"');
  });

  it('rejects text that is not JSON without echoing it', () => {
    expect(() => parseDbSecret('s', 'hunter2')).toThrow(/^Secret s is not JSON$/);
  });
});
