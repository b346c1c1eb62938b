import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withConnection } from '../../lib/db.js';
import { DatabaseError } from '../../lib/errors.js';
import { createSecretCache, fetchSecretString } from '../../lib/secrets.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

const secretsManager = mockClient(SecretsManagerClient);
let testDb: TestDatabase;

function secretFor(password: string): string {
  return JSON.stringify({
    username: testDb.user,
    password,
    host: '127.0.0.1',
    port: 3306,
    dbname: testDb.name,
  });
}

beforeAll(async () => {
  testDb = await createTestDatabase({ maxUserConnections: 3 });
});

afterAll(async () => {
  secretsManager.restore();
  await testDb.drop();
});

describe('withConnection with a Secrets Manager secret', () => {
  it('connects with the secret, whose host and dbname win over the config', async () => {
    secretsManager.reset();
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: secretFor(testDb.password) });
    const secrets = createSecretCache({ ttlMs: 300_000, fetchSecret: fetchSecretString });
    const config = testDb.config({
      DB_SECRET_ID: 'eclectyc/test/db',
      DB_NAME: 'not_this_one',
      DB_HOST: 'nowhere.invalid',
    });
    const database = await withConnection(
      config.db,
      async (db) => {
        const [rows] = await db.query<RowDataPacket[]>('SELECT DATABASE() AS name');
        return rows[0]?.name;
      },
      { secrets },
    );
    expect(database).toBe(testDb.name);
    expect(await testDb.waitForSessions(0)).toBe(0);
  });

  it('refetches the secret once after a rotated password is refused, then succeeds', async () => {
    secretsManager.reset();
    const oldPassword = testDb.password;
    const newPassword = `${oldPassword}-rotated`;
    secretsManager.on(GetSecretValueCommand).resolvesOnce({ SecretString: secretFor(oldPassword) });
    const secrets = createSecretCache({ ttlMs: 300_000, fetchSecret: fetchSecretString });
    const config = testDb.config({ DB_SECRET_ID: 'eclectyc/test/db' });

    await withConnection(config.db, async (db) => db.query('SELECT 1'), { secrets });
    await testDb.admin.query(`ALTER USER ?@'%' IDENTIFIED BY ?`, [testDb.user, newPassword]);
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: secretFor(newPassword) });

    const answer = await withConnection(
      config.db,
      async (db) => {
        const [rows] = await db.query<RowDataPacket[]>('SELECT 7 AS n');
        return rows[0]?.n;
      },
      { secrets },
    );
    expect(answer).toBe(7);
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    expect(await testDb.waitForSessions(0)).toBe(0);
    await testDb.admin.query(`ALTER USER ?@'%' IDENTIFIED BY ?`, [testDb.user, oldPassword]);
  });

  it('refetches only once when the new secret is wrong too, and reports access denied', async () => {
    secretsManager.reset();
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: secretFor('still-wrong') });
    const secrets = createSecretCache({ ttlMs: 300_000, fetchSecret: fetchSecretString });
    const config = testDb.config({ DB_SECRET_ID: 'eclectyc/test/db' });
    const error = await withConnection(config.db, async () => 'never', { secrets }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(DatabaseError);
    expect(error).toMatchObject({ errno: 1045 });
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    expect(await testDb.sessionCount()).toBe(0);
  });
});
