import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { type Config, loadConfig } from '../lib/config.js';
import { withConnection } from '../lib/db.js';
import { asDatabaseError, isConnectionGone } from '../lib/errors.js';
import { logger } from '../lib/logger.js';
import { parseQueueMessage } from '../lib/storage/upload-events.js';
import { type ArrivalOutcome, markUploadArrived } from '../lib/storage/upload-repository.js';

/**
 * S3 object-created events, delivered by the upload-events SQS queue, move jobs from awaiting_upload
 * to queued. One connection for the whole batch; a message that fails is reported alone
 * (ReportBatchItemFailures) and comes back after the visibility timeout. See docs/design.md#upload-events.
 */
export function createS3UploadArrivedHandler(config: Config) {
  return async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const messages = event.Records.map(parseQueueMessage);
    for (const message of messages) {
      if (message.kind === 'ignored') logger.info('upload event ignored', { ...message });
    }
    const pending = messages.flatMap((message) => (message.kind === 'arrivals' ? [message] : []));
    if (pending.every((message) => message.arrivals.length === 0)) return { batchItemFailures: [] };
    const failed: string[] = [];
    const outcomes: Array<{ key: string; etag: string; outcome: ArrivalOutcome }> = [];
    try {
      await withConnection(
        config.db,
        async (db) => {
          for (const message of pending) {
            try {
              for (const arrival of message.arrivals) {
                const outcome = await markUploadArrived(db, arrival);
                outcomes.push({ key: arrival.key, etag: arrival.etag, outcome });
              }
            } catch (error) {
              // A lost connection fails every message left; anything else only this one.
              if (isConnectionGone(error)) throw error;
              // asDatabaseError: a driver error carries its statement, values and all; logs never do.
              logger.error('upload event failed', {
                messageId: message.messageId,
                error: asError(asDatabaseError(error)),
              });
              failed.push(message.messageId);
            }
          }
        },
        { invocation: context },
      );
    } catch (error) {
      logger.error('upload events not processed', { error: asError(error) });
      const done = new Set(outcomes.map((outcome) => outcome.key));
      for (const message of pending) {
        if (
          !failed.includes(message.messageId) &&
          message.arrivals.some((arrival) => !done.has(arrival.key))
        ) {
          failed.push(message.messageId);
        }
      }
    }
    for (const outcome of outcomes) {
      // A key no job awaits is left alone (the lifecycle rule deletes it); say so where operators look.
      if (outcome.outcome === 'unknown' || outcome.outcome === 'ignored')
        logger.warn('upload not queued', outcome);
    }
    logger.info('upload events', { messages: event.Records.length, outcomes, failed: failed.length });
    return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
  };
}

function asError(error: unknown): Error | string {
  return error instanceof Error ? error : String(error);
}

export const handler = createS3UploadArrivedHandler(loadConfig(process.env));
