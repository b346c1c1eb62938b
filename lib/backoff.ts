// Pure retry-delay arithmetic: the connect retry's full-jitter backoff and the import job's
// re-queue backoff. No timers and no I/O, so both are unit-tested exactly.

/** "Full jitter": a uniform delay in [0, min(cap, base × 2^(attempt−1))). attempt starts at 1. */
export function fullJitterDelayMs(
  attempt: number,
  baseMs: number,
  capMs: number,
  random: () => number,
): number {
  const ceilingMs = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceilingMs);
}

/** Import job re-queue delay: min(2^retryCount × 60 s, 3600 s) → 1, 2, 4 … minutes, at most an hour. */
export function jobRetryDelaySeconds(retryCount: number): number {
  return Math.min(2 ** Math.max(0, retryCount) * 60, 3600);
}
