import { describe, expect, it } from 'vitest';
import { ConnectionLimitError, DatabaseError, DeadlineExceededError, HttpError } from '../../lib/errors.js';
import { errorResponse } from '../../lib/http.js';

describe('errorResponse', () => {
  it('answers 503 with Retry-After when the database did not answer in time, naming nothing inside', () => {
    for (const error of [
      new DeadlineExceededError(2000),
      new DatabaseError('connect ETIMEDOUT 10.0.3.7:3306', { code: 'ETIMEDOUT', fatal: true }),
    ]) {
      const response = errorResponse(error, 'req-1');
      expect(response.statusCode).toBe(503);
      expect(response.headers?.['retry-after']).toBe('5');
      expect(JSON.parse(String(response.body))).toEqual({
        error: 'Service unavailable: the database did not answer in time, retry later',
        request_id: 'req-1',
      });
    }
  });

  it('keeps 503 for a connection limit, the caller’s status for HttpError, and a generic 500 otherwise', () => {
    expect(errorResponse(new ConnectionLimitError(1226, 4, 1), 'r').statusCode).toBe(503);
    expect(errorResponse(new HttpError(422, 'bad'), 'r').statusCode).toBe(422);
    const lost = errorResponse(
      new DatabaseError('lost', { code: 'PROTOCOL_CONNECTION_LOST', fatal: true }),
      'r',
    );
    expect(lost.statusCode).toBe(500);
    expect(JSON.parse(String(lost.body))).toEqual({ error: 'Internal server error', request_id: 'r' });
  });
});
