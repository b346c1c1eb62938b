import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { type Config, loadConfig } from '../lib/config.js';
import { ConnectionTally, createFunctionMetrics, publishConnectionTally } from '../lib/connection-metrics.js';
import { withConnection } from '../lib/db.js';
import { type JobOutcome, processImports } from '../lib/imports/processor.js';
import { purgeFinishedJobs } from '../lib/imports/processor-repository.js';
import { logger } from '../lib/logger.js';
import { createS3Client, type S3Credentials } from '../lib/storage/s3-client.js';
import { expireAbandonedUploads } from '../lib/storage/upload-repository.js';

/** The daily schedule sends `{"task": "purge"}`; the per-minute one sends nothing in particular. */
export type ProcessImportsEvent = { readonly task?: unknown } | null | undefined;

export type ProcessImportsResult =
  | { readonly task: 'import'; readonly jobs: readonly JobOutcome[] }
  | { readonly task: 'purge'; readonly deletedJobs: number };

const PURGE_BATCH = 500;

/** `s3Credentials`: tests against a local S3 pass them; in AWS the function's role provides them. */
export function createProcessImportsHandler(
  config: Config,
  deps: { readonly s3Credentials?: S3Credentials } = {},
) {
  // Metrics buffer numbers in memory and write them to stdout: no socket, so one per handler is fine.
  const metrics = createFunctionMetrics(config.stage, 'processImports');
  return async (event: ProcessImportsEvent, context: Context): Promise<ProcessImportsResult> => {
    // Request id, function name and cold start on every log line of this invocation.
    logger.addContext(context);
    const tally = new ConnectionTally();
    try {
      return await run(event, context, tally);
    } finally {
      publishConnectionTally(metrics, tally);
    }
  };

  async function run(
    event: ProcessImportsEvent,
    context: Context,
    tally: ConnectionTally,
  ): Promise<ProcessImportsResult> {
    const remainingMs = () => context.getRemainingTimeInMillis();
    const options = { invocation: context, connectionEvents: tally };
    if (event?.task === 'purge') {
      const deletedJobs = await withConnection(
        config.db,
        async (db) => {
          await expireAbandonedUploads(db, config.storage.uploadExpiryMarginSeconds, PURGE_BATCH);
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
        options,
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
          createS3Client: () => createS3Client(config.storage, { credentials: deps.s3Credentials }),
        }),
      options,
    );
    logger.info('import run', { leaseOwner, jobCount: jobs.length, jobs });
    return { task: 'import', jobs };
  }
}

export const handler = createProcessImportsHandler(loadConfig(process.env));
