import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withConnection } from '../../lib/db.js';
import { applyMigrations, MigrationError, readMigrations, splitStatements } from '../../lib/migrate.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

let testDb: TestDatabase;
let directory: string;

beforeAll(async () => {
  testDb = await createTestDatabase();
  directory = await mkdtemp(join(tmpdir(), 'eclectyc-migrations-'));
  await writeFile(
    join(directory, '001_create_widgets.sql'),
    '-- widgets\nCREATE TABLE IF NOT EXISTS widgets (id INT PRIMARY KEY);\nINSERT INTO widgets VALUES (1);\n',
  );
  await writeFile(
    join(directory, '002_add_name.sql'),
    'ALTER TABLE widgets ADD COLUMN name VARCHAR(20) NULL;\n',
  );
});

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
  await testDb.drop();
});

describe('migrations', () => {
  it('applies pending migrations in order and records them', async () => {
    const migrations = await readMigrations(directory);
    const applied = await withConnection(testDb.config().db, (db) => applyMigrations(db, migrations));
    expect(applied).toEqual([1, 2]);
    const [rows] = await testDb.admin.query<RowDataPacket[]>(
      `SELECT version, name FROM \`${testDb.name}\`.schema_migrations ORDER BY version`,
    );
    expect(rows.map((row) => [row.version, row.name])).toEqual([
      [1, 'create_widgets'],
      [2, 'add_name'],
    ]);
    expect(await testDb.waitForSessions(0)).toBe(0);
  });

  it('changes nothing on a second run', async () => {
    const migrations = await readMigrations(directory);
    const applied = await withConnection(testDb.config().db, (db) => applyMigrations(db, migrations));
    expect(applied).toEqual([]);
    const [rows] = await testDb.admin.query<RowDataPacket[]>(
      `SELECT COUNT(*) AS n FROM \`${testDb.name}\`.widgets`,
    );
    expect(rows[0]?.n).toBe(1);
  });

  it('refuses to run when an applied migration was edited', async () => {
    await writeFile(
      join(directory, '002_add_name.sql'),
      'ALTER TABLE widgets ADD COLUMN name VARCHAR(40) NULL;\n',
    );
    const migrations = await readMigrations(directory);
    await expect(
      withConnection(testDb.config().db, (db) => applyMigrations(db, migrations)),
    ).rejects.toBeInstanceOf(MigrationError);
    expect(await testDb.waitForSessions(0)).toBe(0);
  });

  it('rejects a file whose name is not NNN_name.sql', async () => {
    const bad = await mkdtemp(join(tmpdir(), 'eclectyc-bad-migrations-'));
    await writeFile(join(bad, 'create.sql'), 'SELECT 1;');
    await expect(readMigrations(bad)).rejects.toThrow(/create\.sql is not NNN_name\.sql/);
    await rm(bad, { recursive: true, force: true });
  });
});

describe('splitStatements', () => {
  it('splits at line-ending semicolons and drops comment lines', () => {
    expect(
      splitStatements('-- note\nCREATE TABLE a (x INT);\n\nINSERT INTO a VALUES (1);\nSELECT 1'),
    ).toEqual(['CREATE TABLE a (x INT)', 'INSERT INTO a VALUES (1)', 'SELECT 1']);
  });

  it('keeps a semicolon inside a line', () => {
    expect(splitStatements("INSERT INTO a VALUES ('x;y');\n")).toEqual(["INSERT INTO a VALUES ('x;y')"]);
  });
});
