// `npm run reset -- --yes [--all]`: empties the local database's import jobs (with their stored files)
// and readings, so health and the failure rate start clean; --all empties meters and sites too. Users,
// grants, credentials and migrations are kept. Refuses any server that is not on this machine.

import type { RowDataPacket } from 'mysql2/promise';
import { withConnection } from '../lib/db.js';
import { explainConnectFailure, localAdminConfig, resolveLocalDatabase } from './local-db.js';

const USAGE = `Usage: npm run reset -- --yes [--all]

  --yes   really delete (without it nothing is touched)
  --all   also delete every meter and site

Deletes every import job (and its stored file) and every reading in the local database (DB_NAME,
default eclectyc_dev); keeps users, grants, credentials and migrations.`;

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1']);
// Children before parents: readings reference meters, meters sites, file chunks jobs.
const JOB_TABLES = ['meter_readings', 'import_file_chunks', 'import_jobs'];
const ALL_TABLES = [...JOB_TABLES, 'meters', 'sites'];

const args = process.argv.slice(2);
const unknown = args.filter((arg) => !['--yes', '--all', '--help', '-h'].includes(arg));
if (unknown.length > 0 || args.includes('--help') || args.includes('-h') || !args.includes('--yes')) {
  if (unknown.length > 0) console.error(`Unknown argument "${String(unknown[0]).slice(0, 40)}"\n`);
  else if (!args.includes('--yes')) console.error('Nothing deleted: add --yes to confirm.\n');
  console.log(USAGE);
  process.exit(args.includes('--help') || args.includes('-h') ? 0 : 2);
}

const { env, where } = await resolveLocalDatabase(process.env, { startPrivate: false });
const config = localAdminConfig(env);
if (!LOOPBACK_HOSTS.has(config.db.host)) {
  console.error(
    `Refusing to reset ${config.db.host}: npm run reset only empties a database on this machine.`,
  );
  process.exit(2);
}
const tables = args.includes('--all') ? ALL_TABLES : JOB_TABLES;
try {
  const deleted = await withConnection(config.db, async (db) => {
    const counts: string[] = [];
    await db.beginTransaction();
    for (const table of tables) {
      // Table names come from the constant lists above, never from input.
      const [rows] = await db.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM \`${table}\``);
      await db.query(`DELETE FROM \`${table}\``);
      counts.push(`${table} ${Number(rows[0]?.n)}`);
    }
    await db.commit();
    return counts;
  });
  console.log(`Reset ${config.db.database} on ${where}: deleted ${deleted.join(', ')} rows.`);
} catch (error) {
  const explained = explainConnectFailure(error, config);
  console.error(explained ?? (error instanceof Error ? `${error.name}: ${error.message}` : String(error)));
  process.exitCode = 1;
}
