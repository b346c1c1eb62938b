import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { type Config, loadConfig } from '../lib/config.js';
import { withConnection } from '../lib/db.js';
import { ConnectionLimitError } from '../lib/errors.js';
import { checkDatabase } from '../lib/health/database.js';
import { createRouter, errorResponse, type HttpResponse, json, parseRequest } from '../lib/http.js';
import { logger } from '../lib/logger.js';

export function createApiHandler(config: Config) {
  return async (event: APIGatewayProxyEventV2, context: Context): Promise<HttpResponse> => {
    const invocation = context;
    const route = createRouter([
      {
        method: 'GET',
        pattern: '/api/health',
        handle: async () => {
          try {
            const database = await withConnection(config.db, (db) => checkDatabase(db), { invocation });
            return json(200, {
              status: 'healthy',
              checks: { database: { status: database.status, round_trip_ms: database.roundTripMs } },
            });
          } catch (error) {
            const retry =
              error instanceof ConnectionLimitError ? { 'retry-after': String(error.retryAfterSeconds) } : {};
            logger.warn('health check: database unreachable', { errorName: errorName(error) });
            return json(
              503,
              { status: 'critical', checks: { database: { status: 'down', error: errorName(error) } } },
              retry,
            );
          }
        },
      },
    ]);
    const request = parseRequest(event);
    let response: HttpResponse;
    try {
      response = await route(request);
    } catch (error) {
      response = errorResponse(error, request.requestId);
    }
    logger.info('request', {
      method: request.method,
      path: request.path,
      statusCode: response.statusCode,
      requestId: request.requestId,
    });
    return response;
  };
}

function errorName(error: unknown): string {
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') return error.code;
  return error instanceof Error ? error.name : 'Error';
}

export const handler = createApiHandler(loadConfig(process.env));
