import { describe, expect, it } from 'vitest';
import {
  asDatabaseError,
  ConnectionLimitError,
  DatabaseError,
  DeadlineExceededError,
  isConnectionGone,
  isDatabaseUnavailable,
  isDriverError,
  toDatabaseError,
} from '../../lib/errors.js';

/** Errors shaped as mysql2 raises them. */
function driverError(message: string, fields: Record<string, unknown>): Error {
  return Object.assign(new Error(message), fields);
}

describe('isConnectionGone', () => {
  it('is true for every error mysql2 marks fatal, including the closed-state one that has no code', () => {
    const lost = driverError('Connection lost: The server closed the connection.', {
      code: 'PROTOCOL_CONNECTION_LOST',
      fatal: true,
    });
    const closed = driverError("Can't add new command when connection is in closed state", { fatal: true });
    expect(isDriverError(closed)).toBe(false);
    expect([lost, closed].map(isConnectionGone)).toEqual([true, true]);
    expect(isConnectionGone(toDatabaseError(lost as Error & { code: string }))).toBe(true);
  });

  it('is false for statement errors, which leave the connection usable, and for anything else', () => {
    const syntax = driverError('You have an error in your SQL syntax', {
      code: 'ER_PARSE_ERROR',
      errno: 1064,
      fatal: false,
    });
    expect(isConnectionGone(syntax)).toBe(false);
    expect(isConnectionGone(new DatabaseError('dup', { code: 'ER_DUP_ENTRY', errno: 1062 }))).toBe(false);
    expect(isConnectionGone(new Error('work failed'))).toBe(false);
    expect(isConnectionGone({ fatal: true })).toBe(false);
    expect(isConnectionGone(undefined)).toBe(false);
  });
});

describe('asDatabaseError', () => {
  it('reports mysql2’s codeless closed-state error as the connection loss it is', () => {
    const closed = driverError("Can't add new command when connection is in closed state", { fatal: true });
    const converted = asDatabaseError(closed);
    expect(converted).toBeInstanceOf(DatabaseError);
    expect(converted).toMatchObject({
      code: 'PROTOCOL_CONNECTION_LOST',
      fatal: true,
      message: "Connection lost: Can't add new command when connection is in closed state",
      cause: closed,
    });
  });

  it('converts driver errors, and leaves the project’s own and the work’s errors alone', () => {
    const syntax = driverError('You have an error in your SQL syntax', {
      code: 'ER_PARSE_ERROR',
      errno: 1064,
    });
    expect(asDatabaseError(syntax)).toMatchObject({ name: 'DatabaseError', code: 'ER_PARSE_ERROR' });
    const own = new DatabaseError('lost', { code: 'PROTOCOL_CONNECTION_LOST', fatal: true });
    expect(asDatabaseError(own)).toBe(own);
    const work = new Error('work failed');
    expect(asDatabaseError(work)).toBe(work);
  });

  it('converts a server error mysql2 has no code for (MariaDB 1969), keeping errno and sqlState', () => {
    const message = 'Query execution was interrupted (max_statement_time exceeded)';
    const killed = driverError(message, {
      code: undefined,
      errno: 1969,
      sqlState: '70100',
      sqlMessage: message,
    });
    expect(isDriverError(killed)).toBe(true);
    const converted = asDatabaseError(killed);
    expect(converted).toMatchObject({
      name: 'DatabaseError',
      code: undefined,
      errno: 1969,
      sqlState: '70100',
    });
    expect(isDatabaseUnavailable(converted)).toBe(true);
    // An errno alone, without the server's message, is not enough to call it the driver's.
    expect(isDriverError(driverError('odd', { errno: 1969 }))).toBe(false);
  });
});

describe('isDatabaseUnavailable', () => {
  it('is true for the deadline, a connect that timed out or was refused, and a statement out of time', () => {
    const unavailable = [
      new DeadlineExceededError(2000),
      new DatabaseError('connect ETIMEDOUT', { code: 'ETIMEDOUT', fatal: true }),
      new DatabaseError('connect ECONNREFUSED', { code: 'ECONNREFUSED', fatal: true }),
      new DatabaseError('Lock wait timeout exceeded', { code: 'ER_LOCK_WAIT_TIMEOUT', errno: 1205 }),
      new DatabaseError('Query execution was interrupted (max_statement_time exceeded)', {
        code: 'ER_STATEMENT_TIMEOUT',
        errno: 1969,
      }),
      new DatabaseError('Query execution was interrupted, maximum statement execution time exceeded', {
        code: 'ER_QUERY_TIMEOUT',
        errno: 3024,
      }),
    ];
    expect(unavailable.map(isDatabaseUnavailable)).toEqual(unavailable.map(() => true));
  });

  it('is false for a connection lost mid-request, SQL errors, limits and anything else', () => {
    const others = [
      new DatabaseError('Connection lost', { code: 'PROTOCOL_CONNECTION_LOST', fatal: true }),
      new DatabaseError('Duplicate entry', { code: 'ER_DUP_ENTRY', errno: 1062 }),
      new ConnectionLimitError(1226, 3, 1),
      new Error('ETIMEDOUT'),
      'ETIMEDOUT',
    ];
    expect(others.map(isDatabaseUnavailable)).toEqual(others.map(() => false));
  });
});
