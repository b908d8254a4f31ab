import { valueAtPercentile } from '../percentiles.ts';
import { textTable } from '../text-table.ts';
import type { InstanceConvergence } from './write-then-read.ts';

/** The value at quantile `q` (0-1) of `values` (`../percentiles.ts`); undefined when empty. */
function percentile(values: number[], q: number): number | undefined {
  return values.length === 0 ? undefined : valueAtPercentile(values, q * 100);
}

const fmt = (value: number | undefined) => (value === undefined ? '-' : value.toFixed(2));

/**
 * The write-then-read table: per instance, stale first reads and convergence time. Every instance
 * reads back every write, so each row covers all `totalWrites` writes (not writes made there).
 */
export function formatConvergence(results: InstanceConvergence[], totalWrites: number): string {
  const header = [
    'instance',
    'writes read',
    'first read stale',
    'conv. p50 ms',
    'p99 ms',
    'max ms',
    'timed out',
  ];
  const rows = results.map((r) => [
    r.instance,
    String(r.writes),
    `${r.firstReadStale} (${((100 * r.firstReadStale) / Math.max(1, r.writes)).toFixed(1)}%)`,
    fmt(percentile(r.convergenceMs, 0.5)),
    fmt(percentile(r.convergenceMs, 0.99)),
    fmt(r.convergenceMs.length ? Math.max(...r.convergenceMs) : undefined),
    String(r.timedOut),
  ]);
  return [
    'Convergence: from a write returning until an instance serves it (start of the first read that',
    'returned it). First read stale: the first read right after the write returned the old value.',
    `${totalWrites} writes in total, round robin over the ${results.length} instances; every instance read each`,
    `of them back, so every row counts all ${totalWrites}.`,
    '',
    ...textTable([header, ...rows], { right: header.map((_, c) => c > 0) }),
  ].join('\n');
}
