import type { Random } from './random.ts';

/**
 * A Zipf distribution over ranks 1…n: rank r is drawn with probability proportional to 1/r^s.
 * With s = 1, the top 1% of 10,000 keys take about half of the draws: the skew of real caches.
 */
export interface Zipf {
  /** Draws a rank in 1…n with `random`. */
  draw(random: Random): number;
  /** The probability of drawing one of ranks 1…k. */
  share(k: number): number;
}

/** Precomputes the cumulative distribution once; each draw is a binary search. */
export function createZipf(n: number, s: number): Zipf {
  if (!Number.isInteger(n) || n < 1) throw new TypeError('`n` must be a positive integer');
  if (!Number.isFinite(s) || s < 0) throw new TypeError('`s` must be a non-negative number');
  const cumulative = new Float64Array(n);
  let total = 0;
  for (let rank = 1; rank <= n; rank++) {
    total += 1 / rank ** s;
    cumulative[rank - 1] = total;
  }
  return {
    draw(random) {
      const target = random.next() * total;
      let lo = 0;
      let hi = n - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((cumulative[mid] as number) <= target) lo = mid + 1;
        else hi = mid;
      }
      return lo + 1;
    },
    share: (k) => (cumulative[Math.min(n, Math.max(1, k)) - 1] as number) / total,
  };
}
