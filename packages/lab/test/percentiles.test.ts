import { createRandom } from '@cachelab/lab/lab/random.ts';
import { percentiles, valueAtPercentile, valuesAtPercentiles } from '@cachelab/lab/percentiles.ts';
import { describe, expect, it } from 'vitest';
import { createPropagationRecorder } from '../../cache/src/stats.ts';

// One percentile everywhere: the smallest sample with at least p % of the samples at or below it.

/** The definition, written out: the ⌈p/100 · n⌉-th smallest sample, at least the smallest. */
function nearestRank(samples: number[], percent: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((percent / 100) * sorted.length) - 1)] as number;
}

describe('percentiles', () => {
  it('is the nearest rank', () => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentiles(samples)).toEqual({ count: 100, p50: 50, p90: 90, p99: 99, max: 100 });
    // 0.99 · 150 = 148.5: the 149th smallest, not the 148th (rounding down) nor the 150th.
    const more = Array.from({ length: 150 }, (_, i) => i + 1);
    expect(valueAtPercentile(more, 99)).toBe(149);
    expect(percentiles([7])).toEqual({ count: 1, p50: 7, p90: 7, p99: 7, max: 7 });
  });

  it('is exact to the microsecond below 262 ms, and within 0.001 % above', () => {
    const random = createRandom(7);
    for (let round = 0; round < 50; round++) {
      const samples = Array.from(
        { length: 1 + Math.floor(random.next() * 400) },
        () => Math.round(random.next() * 262_000) / 1000,
      );
      for (const percent of [0, 50, 90, 99, 100]) {
        expect(valueAtPercentile(samples, percent)).toBeCloseTo(nearestRank(samples, percent), 9);
      }
    }
    const large = [1, 5_000.5, 60_000];
    const [p50, max] = valuesAtPercentiles(large, [50, 100]) as [number, number];
    expect(Math.abs(p50 - 5_000.5) / 5_000.5).toBeLessThan(1e-5);
    expect(Math.abs(max - 60_000) / 60_000).toBeLessThan(1e-5);
  });

  it('keeps negative samples (a reader that saw a write before the call returned)', () => {
    expect(valuesAtPercentiles([-0.5, -0.25, 0.75], [0, 50, 100])).toEqual([-0.5, -0.25, 0.75]);
  });

  it('has no value without samples', () => {
    expect(valueAtPercentile([], 99)).toBeNaN();
    expect(percentiles([]).count).toBe(0);
  });

  it("agrees with the cache's /stats propagation percentiles", () => {
    const random = createRandom(11);
    for (let round = 0; round < 20; round++) {
      const recorder = createPropagationRecorder();
      const samples = Array.from(
        { length: 1 + Math.floor(random.next() * 1000) },
        () => Math.round(random.next() * 5_000) / 1000,
      );
      for (const sample of samples) recorder.record(sample);
      const stats = recorder.snapshot();
      expect(stats.p50).toBeCloseTo(valueAtPercentile(samples, 50), 9);
      expect(stats.p99).toBeCloseTo(valueAtPercentile(samples, 99), 9);
      expect(stats.max).toBeCloseTo(valueAtPercentile(samples, 100), 9);
    }
  });
});
