// Versioned SQL migrations: reads `NNN_name.sql` files, applies the ones not yet recorded in
// schema_migrations in order, under a named lock so two runners never interleave. Owns no connection.

import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import type { Db } from './db.js';
import { AppError } from './errors.js';

export class MigrationError extends AppError {}

export type Migration = {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
};

const FILE_PATTERN = /^(\d{3,})_([a-z0-9_]+)\.sql$/;
const LOCK_NAME = 'eclectyc_schema_migrations';
const LOCK_TIMEOUT_SECONDS = 60;

export async function readMigrations(directory: string): Promise<Migration[]> {
  const files = (await readdir(directory)).filter((file) => file.endsWith('.sql'));
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = FILE_PATTERN.exec(file);
    if (!match?.[1] || !match[2]) throw new MigrationError(`Migration file name ${file} is not NNN_name.sql`);
    const sql = await readFile(join(directory, file), 'utf8');
    migrations.push({
      version: Number(match[1]),
      name: match[2],
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
    });
  }
  migrations.sort((a, b) => a.version - b.version);
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i]?.version === migrations[i - 1]?.version) {
      throw new MigrationError(`Two migrations share version ${migrations[i]?.version}`);
    }
  }
  return migrations;
}

/** Splits a migration into statements at lines ending in `;` (no stored programs in migrations). */
export function splitStatements(sql: string): string[] {
  const withoutComments = sql
    .split('\n')
    .filter((line) => !/^\s*--/.test(line))
    .join('\n');
  return withoutComments
    .split(/;\s*(?:\n|$)/)
    .map((statement) => statement.trim())
    .filter((statement) => statement !== '');
}

/** Applies pending migrations; returns the versions applied. An edited, already applied file is an error. */
export async function applyMigrations(db: Db, migrations: readonly Migration[]): Promise<number[]> {
  await db.query(
    `CREATE TABLE IF NOT EXISTS schema_migrations (
       version INT UNSIGNED NOT NULL PRIMARY KEY,
       name VARCHAR(200) NOT NULL,
       checksum CHAR(64) NOT NULL,
       applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
     ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
  );
  const [lockRows] = await db.query<RowDataPacket[]>('SELECT GET_LOCK(?, ?) AS acquired', [
    LOCK_NAME,
    LOCK_TIMEOUT_SECONDS,
  ]);
  if (lockRows[0]?.acquired !== 1) throw new MigrationError('Another migration run holds the lock');
  try {
    const [rows] = await db.query<RowDataPacket[]>('SELECT version, checksum FROM schema_migrations');
    const applied = new Map(rows.map((row) => [Number(row.version), String(row.checksum)]));
    const done: number[] = [];
    for (const migration of migrations) {
      const checksum = applied.get(migration.version);
      if (checksum !== undefined) {
        if (checksum !== migration.checksum) {
          throw new MigrationError(
            `Migration ${migration.version}_${migration.name} changed after it was applied`,
          );
        }
        continue;
      }
      // DDL commits implicitly in MySQL, so statements are written to be re-runnable (IF NOT EXISTS).
      for (const statement of splitStatements(migration.sql)) await db.query(statement);
      await db.query('INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)', [
        migration.version,
        migration.name,
        migration.checksum,
      ]);
      done.push(migration.version);
    }
    return done;
  } finally {
    await db.query('SELECT RELEASE_LOCK(?)', [LOCK_NAME]);
  }
}
