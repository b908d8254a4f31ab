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

/** Policies that evict by use (recency, frequency), and those that do not look at use. */
const BY_USE = ['allkeys-lru', 'allkeys-lfu', 'volatile-lru', 'volatile-lfu'];
const BLIND = ['allkeys-random', 'volatile-random', 'volatile-ttl'];

/** The hot-set check of a run: whether every use-based policy kept more of the hot set. */
export interface HotSetCheck {
  /** `undefined` when the run has no policy of one of the two kinds. */
  holds: boolean | undefined;
  /** One line for the terminal, naming each policy's share of the hot set in Redis. */
  line: string;
}

/**
 * The pattern the demo asserts: each policy that evicts by use (LRU, LFU) ends with more of the
 * hot set in Redis than each policy that does not (random, volatile-ttl). Hit ratios are not
 * compared: they lie within a few points of each other and their order changes between runs.
 */
export function hotSetCheck(results: PolicyResult[]): HotSetCheck {
  const byUse = results.filter((r) => BY_USE.includes(r.policy));
  const blind = results.filter((r) => BLIND.includes(r.policy));
  const shares = (rs: PolicyResult[]) =>
    rs.map((r) => `${r.policy} ${(r.hotResident * 100).toFixed(0)}%`).join(', ');
  if (byUse.length === 0 || blind.length === 0) {
    return {
      holds: undefined,
      line: 'hot set in Redis: not compared (needs LRU or LFU and random or volatile-ttl)',
    };
  }
  const holds =
    Math.min(...byUse.map((r) => r.hotResident)) > Math.max(...blind.map((r) => r.hotResident));
  return {
    holds,
    line: `hot set in Redis: ${shares(byUse)} ${holds ? '>' : 'NOT >'} ${shares(blind)}`,
  };
}
