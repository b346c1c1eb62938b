import { describe, expect, it } from 'vitest';
import { type CounterReading, counterDelta, userConnectionsCounter } from '../../../lib/monitor/counters.js';

const reading = (overrides: Partial<CounterReading> = {}): CounterReading => ({
  name: 'Aborted_connects',
  value: 120,
  serverKey: 'db-1:3306:1',
  uptimeSeconds: 86_400,
  ...overrides,
});

describe('counterDelta', () => {
  it('is the difference since the last run on the same server', () => {
    expect(counterDelta(reading({ value: 100, uptimeSeconds: 86_100 }), reading())).toEqual({
      name: 'Aborted_connects',
      value: 120,
      delta: 20,
      basis: 'since-last-run',
    });
  });

  it('has no delta on the first reading, or when another server answers (a failover)', () => {
    expect(counterDelta(undefined, reading())).toMatchObject({ delta: null, basis: 'first-reading' });
    expect(counterDelta(reading({ serverKey: 'db-2:3306:2', value: 5 }), reading())).toMatchObject({
      delta: null,
      basis: 'server-changed',
    });
  });

  it('counts from zero after a restart (uptime went back) or a flush (the value went back)', () => {
    expect(
      counterDelta(
        reading({ value: 5_000, uptimeSeconds: 90_000 }),
        reading({ value: 7, uptimeSeconds: 300 }),
      ),
    ).toEqual({
      name: 'Aborted_connects',
      value: 7,
      delta: 7,
      basis: 'since-restart',
    });
    expect(
      counterDelta(reading({ value: 5_000 }), reading({ value: 3, uptimeSeconds: 90_000 })),
    ).toMatchObject({
      delta: 3,
      basis: 'since-restart',
    });
  });

  it('names a user’s counter within the column’s 128 characters', () => {
    expect(userConnectionsCounter('app')).toBe('accounts.total_connections:app');
    expect(userConnectionsCounter('x'.repeat(200))).toHaveLength(128);
  });
});
