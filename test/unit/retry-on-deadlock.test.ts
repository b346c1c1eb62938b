import { describe, expect, it } from 'vitest';
import { retryOnDeadlock } from '../../lib/db.js';

function driverError(code: string, errno: number): Error {
  return Object.assign(new Error(code), { code, errno });
}

describe('retryOnDeadlock', () => {
  it('runs the statement again when InnoDB chose it as a deadlock victim', async () => {
    let calls = 0;
    const result = await retryOnDeadlock(async () => {
      calls++;
      if (calls < 3) throw driverError('ER_LOCK_DEADLOCK', 1213);
      return 'done';
    });
    expect(result).toBe('done');
    expect(calls).toBe(3);
  });

  it('gives up after three deadlocks and rethrows the last one', async () => {
    let calls = 0;
    const error = await retryOnDeadlock(async () => {
      calls++;
      throw driverError('ER_LOCK_DEADLOCK', 1213);
    }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ errno: 1213 });
    expect(calls).toBe(3);
  });

  it('does not retry any other error, a lock wait timeout included', async () => {
    let calls = 0;
    const error = await retryOnDeadlock(async () => {
      calls++;
      throw driverError('ER_LOCK_WAIT_TIMEOUT', 1205);
    }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ errno: 1205 });
    expect(calls).toBe(1);
  });
});
