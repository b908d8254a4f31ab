/**
 * What `demo:eviction` reports: the numbers of one policy's run, and how they are shown (a text
 * table and a bar chart).
 */
import { formatTable } from '../lab/report-text.ts';
import { percent } from './output.ts';
import { barChart } from './svg-chart.ts';

/** What one policy's run measured. */
export interface PolicyResult {
  policy: string;
  /** Users read (the least read first) before Redis started to evict: what fits. */
  usersToFill: number;
  reads: number;
  writes: number;
  tiers: { L1: number; L2: number; MISS: number };
  hitRatio: number | null;
  /** Hit ratio of the reads of the hot set (the `hot` most read users). */
  hotHitRatio: number | null;
  evictedKeys: number;
  /** Version pointer keys among them: each one a key whose pointer a reader then finds missing. */
  evictedPointers: number;
  usedMemoryBytes: number;
  usedMemoryEmptyBytes: number;
  redisKeys: number;
  /** Share of the hot set whose pointer and data entry are both in Redis at the end. */
  hotResident: number;
  databaseQueries: number;
  /**
   * Redis answers that instances refused as older than a version announced to them (`l2Stale`):
   * what a pointer evicted and set back by a slow filler looks like, caught by the protocol.
   */
  staleEntriesRefused: number;
  staleReads: number;
  stuckKeys: number;
  mismatches: number;
  errors: number;
}

/** The settings a chart's subtitle names. */
export interface ChartSettings {
  concurrency: number;
  users: number;
  skew: number;
  writeRatio: number;
  durationMs: number;
  hot: number;
}

/** Bytes as `1.07 MB` or, below a megabyte, `64 kB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(2)} MB`;
}

/** The comparison as an aligned text table, one row per policy. */
export function evictionTable(results: PolicyResult[]): string {
  const headers = [
    'policy',
    'reads',
    'hit ratio',
    `hot-set hit ratio`,
    'evicted keys',
    'of them pointers',
    'used memory',
    'keys in Redis',
    `hot set in Redis`,
    'database queries',
    'stale entries refused',
    'stale reads',
    'stuck keys',
    'errors',
  ];
  const rows = results.map((r) => [
    r.policy,
    String(r.reads),
    percent(r.hitRatio),
    percent(r.hotHitRatio),
    String(r.evictedKeys),
    String(r.evictedPointers),
    formatBytes(r.usedMemoryBytes),
    String(r.redisKeys),
    percent(r.hotResident),
    String(r.databaseQueries),
    String(r.staleEntriesRefused),
    String(r.staleReads),
    String(r.stuckKeys),
    String(r.errors),
  ]);
  return formatTable(headers, rows);
}

/** The comparison as a bar chart (SVG). */
export function evictionChart(
  settings: ChartSettings,
  maxmemoryBytes: number,
  results: PolicyResult[],
): string {
  const groups = (pick: (r: PolicyResult) => number[]) =>
    results.map((r) => ({ label: r.policy.replace('-', '-\n'), values: pick(r) }));
  return barChart({
    title: `Redis eviction policies under maxmemory ${formatBytes(maxmemoryBytes)}`,
    subtitle:
      `${settings.concurrency} clients, ${settings.users} users (Zipf s=${settings.skew}), ` +
      `${settings.writeRatio * 100}% writes, strict reads, ${settings.durationMs / 1000} s per policy; ` +
      `hot set = the ${settings.hot} most read users`,
    panels: [
      {
        title: 'Hit ratio (L1 + L2)',
        weight: 1.6,
        yMax: 1,
        format: (v) => `${Math.round(v * 100)}%`,
        series: [
          { name: 'all reads', color: '#2e7d32' },
          { name: 'reads of the hot set', color: '#81c784' },
          { name: 'hot set in Redis at the end', color: '#1565c0' },
        ],
        groups: groups((r) => [r.hitRatio ?? 0, r.hotHitRatio ?? 0, r.hotResident]),
      },
      {
        title: 'Keys evicted (evicted_keys)',
        series: [
          { name: 'all keys', color: '#ef6c00' },
          { name: 'version pointers', color: '#ffb74d' },
        ],
        groups: groups((r) => [r.evictedKeys, r.evictedPointers]),
      },
      {
        title: 'Stale reads (lab checker)',
        yMax: 10,
        series: [{ name: 'reads older than a completed write', color: '#c62828' }],
        groups: groups((r) => [r.staleReads]),
      },
    ],
  });
}
