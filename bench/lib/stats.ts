/** Percentiles and medians. */
export function percentile(values: ArrayLike<number>, p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export const median = (values: ArrayLike<number>) => percentile(values, 50);

/** (max − min) / 2 / median, as a fraction: how far rounds spread around their median. */
export function spread(values: readonly number[]): number | undefined {
  const m = median(values);
  if (m === undefined || values.length < 2 || m === 0) return undefined;
  return (Math.max(...values) - Math.min(...values)) / 2 / Math.abs(m);
}
