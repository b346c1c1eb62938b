// Small statistics the benchmarks share.

/** The middle value (of an even count, the upper of the two middle ones); 0 for none. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}
