import type { Context } from 'aws-lambda';
import { type Config, loadConfig } from '../lib/config.js';
import { withConnection } from '../lib/db.js';
import { logger } from '../lib/logger.js';

export type ProcessImportsResult = { readonly ok: true; readonly connectionId: number | null };

export function createProcessImportsHandler(config: Config) {
  return async (_event: unknown, context: Context): Promise<ProcessImportsResult> => {
    const connectionId = await withConnection(
      config.db,
      async (db) => {
        await db.query('SELECT 1');
        return db.threadId;
      },
      { invocation: context },
    );
    logger.info('processImports run', { connectionId });
    return { ok: true, connectionId };
  };
}

export const handler = createProcessImportsHandler(loadConfig(process.env));
