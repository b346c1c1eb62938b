// The console's browser steps both browser suites take (test/browser/console.test.ts and the local
// stack's test/integration/local-stack.test.ts): signing in, and asking the readings panel for a
// meter's readings. The callers assert what the page then shows.

import type { Page } from 'playwright-core';

/** Opens the console at `origin`, signs in with `token` and waits for the signed-in page. */
export async function signIn(page: Page, origin: string, token: string): Promise<void> {
  await page.goto(`${origin}/`);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Upload a file' }).waitFor();
}

export type ReadingsQuery = {
  readonly meter: string;
  readonly from?: string;
  readonly to?: string;
  readonly interval?: 'hh' | 'daily';
};

/** Fills in the readings form (fields left out keep what they show) and asks for the readings. */
export async function showReadings(page: Page, query: ReadingsQuery): Promise<void> {
  await page.getByLabel('Meter (MPAN or MPRN)').fill(query.meter);
  if (query.from !== undefined) await page.getByLabel('From', { exact: true }).fill(query.from);
  if (query.to !== undefined) await page.getByLabel('To', { exact: true }).fill(query.to);
  if (query.interval !== undefined) await page.getByLabel('Interval').selectOption(query.interval);
  await page.getByRole('button', { name: 'Show readings' }).click();
}
