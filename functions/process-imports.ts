import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { type Config, loadConfig } from '../lib/config.js';
import { withConnection } from '../lib/db.js';
import { type JobOutcome, processImports } from '../lib/imports/processor.js';
import { purgeFinishedJobs } from '../lib/imports/processor-repository.js';
import { logger } from '../lib/logger.js';

/** The daily schedule sends `{"task": "purge"}`; the per-minute one sends nothing in particular. */
export type ProcessImportsEvent = { readonly task?: unknown } | null | undefined;

export type ProcessImportsResult =
  | { readonly task: 'import'; readonly jobs: readonly JobOutcome[] }
  | { readonly task: 'purge'; readonly deletedJobs: number };

const PURGE_BATCH = 500;

export function createProcessImportsHandler(config: Config) {
  return async (event: ProcessImportsEvent, context: Context): Promise<ProcessImportsResult> => {
    // Request id, function name and cold start on every log line of this invocation.
    logger.addContext(context);
    const remainingMs = () => context.getRemainingTimeInMillis();
    if (event?.task === 'purge') {
      const deletedJobs = await withConnection(
        config.db,
        async (db) => {
          let total = 0;
          for (
            let deleted = PURGE_BATCH;
            deleted === PURGE_BATCH && remainingMs() > config.imports.stopMarginMs;
          ) {
            deleted = await purgeFinishedJobs(db, config.imports.retentionDays, PURGE_BATCH);
            total += deleted;
          }
          return total;
        },
        { invocation: context },
      );
      logger.info('import purge', { deletedJobs, retentionDays: config.imports.retentionDays });
      return { task: 'purge', deletedJobs };
    }
    const leaseOwner = randomUUID();
    const jobs = await withConnection(
      config.db,
      (db) =>
        processImports(db, {
          leaseOwner,
          remainingMs,
          batchSize: config.imports.batchSize,
          stopMarginMs: config.imports.stopMarginMs,
          writeMode: config.imports.writeMode,
        }),
      { invocation: context },
    );
    logger.info('import run', { leaseOwner, jobCount: jobs.length, jobs });
    return { task: 'import', jobs };
  };
}

export const handler = createProcessImportsHandler(loadConfig(process.env));
