// `npm run process [-- --purge] [-- --json]`: runs the import processor once now, in the local stack
// (the same invocation its one-minute schedule makes), instead of waiting for the schedule; with
// --purge, the daily purge of finished jobs past IMPORT_RETENTION_DAYS. Needs `npm start` running.

import { localEnv } from './local-db.js';
import { invokeLocalFunction } from './local-lambda.js';

const USAGE = `Usage: npm run process [-- --purge] [-- --json]

  (no flag)  claim and import every due job now, as the one-minute schedule does
  --purge    delete finished jobs older than IMPORT_RETENTION_DAYS (30), as the daily schedule does
  --json     print the function's result as JSON

Runs in the stack npm start serves (its Lambda endpoint, LAMBDA_PORT, default 3002).`;

type Outcome = {
  batchId: string;
  outcome: string;
  processedRows: number;
  importedRows: number;
  failedRows: number;
  detail?: string;
};

const args = process.argv.slice(2);
const unknown = args.filter((arg) => !['--purge', '--json', '--help', '-h'].includes(arg));
if (args.includes('--help') || args.includes('-h') || unknown.length > 0) {
  if (unknown.length > 0) console.error(`Unknown argument "${String(unknown[0]).slice(0, 40)}"\n`);
  console.log(USAGE);
  process.exit(unknown.length > 0 ? 2 : 0);
}
const purge = args.includes('--purge');

try {
  const result = await invokeLocalFunction(
    localEnv(process.env),
    'processImports',
    purge ? { task: 'purge' } : {},
  );
  if (args.includes('--json')) {
    console.log(JSON.stringify(result, null, 2));
  } else if (purge) {
    console.log(`Purge done: ${String(result.deletedJobs)} finished job(s) deleted.`);
  } else {
    const jobs = (Array.isArray(result.jobs) ? result.jobs : []) as Outcome[];
    console.log(jobs.length === 0 ? 'No job was due.' : `Processed ${jobs.length} job(s):`);
    for (const job of jobs) {
      const detail = job.detail === undefined ? '' : ` (${job.detail})`;
      console.log(
        `  ${job.batchId}  ${job.outcome}: ${job.processedRows} rows processed, ${job.importedRows} imported, ${job.failedRows} failed${detail}`,
      );
    }
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
}
