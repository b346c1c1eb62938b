// How long the console waits between polls: short while things change, backing off while they do
// not, and long while the tab is hidden. Pure (no DOM), so it is unit-tested in Node.

export const FIRST_DELAY_MS = 1000;
export const MAX_VISIBLE_DELAY_MS = 10_000;
export const HIDDEN_DELAY_MS = 60_000;
const BACKOFF_FACTOR = 1.5;

/** The wait before the next poll: reset when the last one saw a change, grown when it did not. */
export function nextDelayMs(
  previousMs: number,
  changed: boolean,
  hidden: boolean,
  maxVisibleMs = MAX_VISIBLE_DELAY_MS,
): number {
  if (hidden) return Math.max(HIDDEN_DELAY_MS, maxVisibleMs);
  if (changed) return FIRST_DELAY_MS;
  return Math.min(maxVisibleMs, Math.round(previousMs * BACKOFF_FACTOR));
}
