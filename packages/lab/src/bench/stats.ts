import { valueAtPercentile } from '../percentiles.ts';

export { type Percentiles, percentiles } from '../percentiles.ts';

/** Median and spread of repeated measurements of one quantity. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  /** Every sample, in the order measured. */
  samples: number[];
}

/** The value at quantile `q` (0-1) of `values`: the percentile of `../percentiles.ts`; `NaN` when empty. */
export function quantile(values: readonly number[], q: number): number {
  return valueAtPercentile(values, q * 100);
}

/** Median, min and max of repeated runs. */
export function spread(samples: readonly number[]): Spread {
  return {
    median: quantile(samples, 0.5),
    min: Math.min(...samples),
    max: Math.max(...samples),
    samples: [...samples],
  };
}

/** Rounds for reports: 3 significant digits below 100, integers above. */
export function round(value: number): number {
  if (!Number.isFinite(value)) return value;
  if (Math.abs(value) >= 100) return Math.round(value);
  return Number(value.toPrecision(3));
}
