// The rule every handler test follows: the app user holds no session before the test and is back to
// none after it, whether the test's invocation succeeded or failed.

import { afterEach, beforeEach, expect } from 'vitest';
import type { TestDatabase } from './database.js';

/** Registers the before/after checks for the test database `current()` returns at that time. */
export function proveSessionAccounting(current: () => TestDatabase): void {
  beforeEach(async () => {
    expect(await current().sessionCount()).toBe(0);
  });
  afterEach(async () => {
    expect(await current().waitForSessions(0)).toBe(0);
  });
}
