/**
 * The one percentile of the lab, the demos, the benchmarks and the stats view, and the same as
 * the cache's `/stats` (`propagationMs`):
 *
 *   the p-th percentile of n samples is the smallest sample such that at least p % of the samples
 *   are at or below it — the ⌈p/100 · n⌉-th smallest (nearest rank), at least the smallest; the
 *   maximum is the 100th.
 *
 * The cache library computes it exactly over its last 1024 propagation delays, without a
 * dependency. Here an HDR histogram (hdr-histogram-js, the one autocannon uses) does, at
 * microsecond resolution with 5 significant digits: exact to the microsecond below 262 ms, within
 * 0.001 % above. Samples are milliseconds; negative ones (a reader that saw a write before the
 * write call returned) are shifted into the histogram's range and back, not dropped.
 */
import { build } from 'hdr-histogram-js';

/** Microseconds per millisecond: the histogram's unit. */
const PER_MS = 1000;

/**
 * The values at `percents` (each 0–100) of `samples` (ms), by the definition above, in the order
 * asked; every one `NaN` when there are no samples.
 */
export function valuesAtPercentiles(
  samples: readonly number[],
  percents: readonly number[],
): number[] {
  if (samples.length === 0) return percents.map(() => Number.NaN);
  let lowest = 0;
  for (const sample of samples) if (sample < lowest) lowest = sample;
  const histogram = build({
    bitBucketSize: 32,
    numberOfSignificantValueDigits: 5,
    highestTrackableValue: 2,
    autoResize: true,
  });
  try {
    for (const sample of samples) histogram.recordValue(Math.round((sample - lowest) * PER_MS));
    return percents.map((p) => histogram.getValueAtPercentile(p) / PER_MS + lowest);
  } finally {
    histogram.destroy();
  }
}

/** The value at `percent` (0–100) of `samples` (ms); `NaN` when there are none. */
export function valueAtPercentile(samples: readonly number[], percent: number): number {
  return valuesAtPercentiles(samples, [percent])[0] as number;
}

/** p50/p90/p99/max of a distribution (latencies, delays, in ms) and how many samples it has. */
export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** {@link Percentiles} of `samples` (ms); `NaN` values and `count: 0` when there are none. */
export function percentiles(samples: readonly number[]): Percentiles {
  const [p50, p90, p99, max] = valuesAtPercentiles(samples, [50, 90, 99, 100]) as [
    number,
    number,
    number,
    number,
  ];
  return { count: samples.length, p50, p90, p99, max };
}
