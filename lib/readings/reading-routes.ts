// GET /api/meters/{meter}/readings: a meter's readings over a settlement-date range, keyset-paged.
// Authenticates first (a 401 never costs a connection), validates, then uses exactly one connection.

import type { RunWithDb } from '../db.js';
import { type HttpRequest, type HttpResponse, json, type Route, type RouteHandler } from '../http.js';
import type { RequestContext } from '../imports/job-routes.js';
import { findMeterByCode, listReadings } from './reading-repository.js';
import { encodeReadingsCursor, meterNotFound, parseReadingsQuery } from './reading-requests.js';

export type ReadingRouteDeps = {
  readonly authenticate: (headers: Readonly<Record<string, string>>) => Promise<void>;
};

export const READINGS_PATH = '/api/meters/{meter}/readings';

export function readingRoutes(deps: ReadingRouteDeps): Route<RequestContext>[] {
  const handle: RouteHandler<RequestContext> = async (request, { runWithDb }) => {
    await deps.authenticate(request.headers);
    return readingsPage(request, runWithDb);
  };
  return [{ method: 'GET', pattern: READINGS_PATH, handle }];
}

async function readingsPage(request: HttpRequest, runWithDb: RunWithDb): Promise<HttpResponse> {
  const query = parseReadingsQuery(request.params, request.query);
  const found = await runWithDb(async (db) => {
    const meter = await findMeterByCode(db, query.meterCode);
    return meter === null ? null : { meter, rows: await listReadings(db, meter.id, query) };
  });
  if (found === null) throw meterNotFound();
  const page = found.rows.slice(0, query.limit);
  const last = page[page.length - 1];
  const nextCursor =
    found.rows.length > query.limit && last !== undefined
      ? encodeReadingsCursor(Date.parse(last.start))
      : null;
  return json(200, {
    meter: found.meter.code,
    interval: query.interval,
    readings: page,
    next_cursor: nextCursor,
  });
}
