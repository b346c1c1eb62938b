import { readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

let testDb: TestDatabase;

beforeAll(async () => {
  testDb = await createTestDatabase();
});

afterAll(async () => {
  await testDb.drop();
});

describe('functions/*.ts at module scope', () => {
  it('opens no connection when every handler module is imported', async () => {
    Object.assign(process.env, {
      DB_HOST: '127.0.0.1',
      DB_NAME: testDb.name,
      DB_USER: testDb.user,
      DB_PASSWORD: testDb.password,
    });
    const files = (await readdir('functions')).filter((file) => file.endsWith('.ts'));
    expect(files.sort()).toEqual(['api.ts', 'monitor.ts', 'process-imports.ts', 's3-upload-arrived.ts']);
    for (const file of files) {
      const module: unknown = await import(`../../functions/${file}`);
      expect(typeof (module as { handler?: unknown }).handler).toBe('function');
    }
    // Give any stray module-level connect time to show up in the processlist.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await testDb.sessionCount()).toBe(0);
  });
});
