import { describe, expect, it } from 'vitest';
import {
  asDatabaseError,
  DatabaseError,
  isConnectionGone,
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
});
