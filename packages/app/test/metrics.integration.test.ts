import type { OutboxRelayStats } from '@cachelab/store';
import { waitFor } from '@cachelab/testkit';
import { describe, expect, it } from 'vitest';
import { parsePrometheusText, sampleValue } from '../../../test/support/index.ts';
import { createMetrics } from '../src/metrics.ts';
import { appFixture, send } from './fixture.ts';

type Stats = {
  http: { requests: number };
  cache: Record<string, number> & { fillsRejected: Record<string, number> };
  database: { queries: number; errors: number };
};

async function scrape(base: string) {
  const response = await fetch(`${base}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await response.text());
}

const EXPECTED_FAMILIES = [
  'process_cpu_seconds_total',
  'process_resident_memory_bytes',
  'nodejs_eventloop_lag_seconds',
  'nodejs_heap_size_used_bytes',
  'cachelab_instance_info',
  'cachelab_http_request_duration_seconds',
  'cachelab_cache_reads_total',
  'cachelab_cache_hits_total',
  'cachelab_cache_misses_total',
  'cachelab_cache_fills_rejected_total',
  'cachelab_cache_invalidations_sent_total',
  'cachelab_cache_invalidations_received_total',
  'cachelab_cache_propagation_delay_seconds',
  'cachelab_cache_publish_failures_total',
  'cachelab_cache_invalidations_retried_total',
  'cachelab_cache_subscriber_reconnects_total',
  'cachelab_cache_trust_lost_total',
  'cachelab_cache_l1_entries',
  'cachelab_cache_l1_evictions_total',
  'cachelab_cache_high_water_marks',
  'cachelab_db_queries_total',
  'cachelab_db_query_errors_total',
  'cachelab_db_query_duration_seconds',
];

describe('GET /metrics', () => {
  it('scrapes cleanly, with counters that agree with /stats', async () => {
    const a = await appFixture('app-a');
    const b = await appFixture('app-b', { namespace: a.namespace });
    // On A: a miss, an L1 hit, a 404, a write; B hears of the write and reads the new version.
    await fetch(`${a.base}/users/11`);
    await fetch(`${a.base}/users/11`);
    await fetch(`${a.base}/users/no-such-user`);
    await fetch(`${a.base}/nowhere/at/all`);
    const put = await send(`${a.base}/users/11`, 'PUT', { name: 'N', email: 'n@x.io', age: 30 });
    expect(put.status).toBe(200);
    await waitFor(() => b.cache.stats().invalidationsReceived >= 1, {
      what: 'B to hear the write',
    });
    expect((await fetch(`${b.base}/users/11`)).headers.get('x-cache')).toBe('L2');

    const families = await scrape(a.base);
    const stats = (await (await fetch(`${a.base}/stats`)).json()) as Stats;
    for (const name of EXPECTED_FAMILIES) expect(families.has(name), name).toBe(true);
    const value = (family: string, labels = {}) => sampleValue(families, family, labels);

    expect(value('cachelab_cache_reads_total')).toBe(stats.cache.reads);
    expect(value('cachelab_cache_hits_total', { tier: 'L1' })).toBe(stats.cache.l1Hits);
    expect(value('cachelab_cache_hits_total', { tier: 'L2' })).toBe(stats.cache.l2Hits);
    expect(value('cachelab_cache_misses_total')).toBe(stats.cache.misses);
    expect(value('cachelab_cache_invalidations_sent_total')).toBe(stats.cache.invalidationsSent);
    for (const [reason, count] of Object.entries(stats.cache.fillsRejected)) {
      expect(value('cachelab_cache_fills_rejected_total', { reason })).toBe(count);
    }
    expect(value('cachelab_cache_l1_entries')).toBe(stats.cache.l1Size);
    expect(value('cachelab_db_queries_total')).toBe(stats.database.queries);
    expect(stats.cache.reads).toBe(3);
    expect(stats.cache.l1Hits).toBe(1);
    expect(value('cachelab_instance_info', { name: 'app-a', strategy: 'versioned' })).toBe(1);

    // Every database query was timed, labelled by operation.
    const timed = families.get('cachelab_db_query_duration_seconds')?.samples ?? [];
    const counted = timed.filter((s) => s.name.endsWith('_count'));
    expect(counted.reduce((sum, s) => sum + s.value, 0)).toBe(stats.database.queries);
    expect(counted.map((s) => s.labels.operation).sort()).toEqual(['get', 'put']);

    // Requests by route pattern (never the raw path), method, status and tier.
    const http = 'cachelab_http_request_duration_seconds';
    const count = (labels: Record<string, string>) =>
      sampleValue(families, http, labels, `${http}_count`);
    expect(count({ route: '/users/:id', method: 'GET', status: '200', cache: 'MISS' })).toBe(1);
    expect(count({ route: '/users/:id', method: 'GET', status: '200', cache: 'L1' })).toBe(1);
    expect(count({ route: '/users/:id', method: 'GET', status: '404', cache: 'MISS' })).toBe(1);
    expect(count({ route: '/users/:id', method: 'PUT', status: '200', cache: 'none' })).toBe(1);
    expect(count({ route: 'unmatched', method: 'GET', status: '404', cache: 'none' })).toBe(1);
    const routes = new Set(families.get(http)?.samples.map((s) => s.labels.route));
    expect([...routes].sort()).toEqual(['/users/:id', 'unmatched']);
    expect(stats.http.requests).toBe(5);

    // B received the invalidation and timed its propagation; its registry is its own.
    const other = await scrape(b.base);
    const delays = 'cachelab_cache_propagation_delay_seconds';
    expect(sampleValue(other, delays, {}, `${delays}_count`)).toBe(1);
    expect(sampleValue(other, 'cachelab_cache_invalidations_received_total')).toBe(1);
    expect(sampleValue(other, 'cachelab_cache_hits_total', { tier: 'L2' })).toBe(1);
    expect(sampleValue(other, 'cachelab_instance_info', { name: 'app-b' })).toBe(1);
  });

  it('keeps the label set bounded under a flood of distinct paths and ids', async () => {
    const app = await appFixture();
    for (let i = 0; i < 50; i++) {
      await fetch(`${app.base}/users/missing-${i}`);
      await fetch(`${app.base}/random/${i}?q=${i}`);
    }
    const families = await scrape(app.base);
    const series = families
      .get('cachelab_http_request_duration_seconds')
      ?.samples.filter((s) => s.name.endsWith('_count'));
    expect(series?.map((s) => s.labels.route).sort()).toEqual(['/users/:id', 'unmatched']);
  });
});

/** A metric family, and its labels or the label that a per-reason map's keys are values of. */
type Metric = [family: string, labels?: Record<string, string> | string];

/**
 * The `/stats` fields whose metric is not named by the rule of docs/monitoring.md (`cache.xyzAbc`
 * is `cachelab_cache_xyz_abc_total`, `database.xyz` is `cachelab_db_xyz_total`, `outbox.xyz` is
 * `cachelab_outbox_xyz_total`), as that page's table maps them; a label name stands for the keys
 * of a per-reason map. `null`: no counter of its own (a histogram, an info label).
 */
const RENAMED: Record<string, Metric | null> = {
  'cache.l1Size': ['cachelab_cache_l1_entries'],
  'cache.trusted': ['cachelab_cache_l1_trusted'],
  'cache.l1Hits': ['cachelab_cache_hits_total', { tier: 'L1' }],
  'cache.l2Hits': ['cachelab_cache_hits_total', { tier: 'L2' }],
  'cache.strictConfirmed': ['cachelab_cache_strict_checks_total', { result: 'confirmed' }],
  'cache.strictRefuted': ['cachelab_cache_strict_checks_total', { result: 'refuted' }],
  'cache.fillsRejected': ['cachelab_cache_fills_rejected_total', 'reason'],
  'cache.messagesRejected': ['cachelab_cache_messages_rejected_total', 'reason'],
  'cache.propagationMs': null,
  'cache.strategy': null,
  'database.errors': ['cachelab_db_query_errors_total'],
};

/** The gauges among the `/stats` fields the rule names: no `_total`. */
const GAUGES = new Set([
  'cache.highWaterMarks',
  'cache.pendingInvalidations',
  'cache.loadsInFlight',
]);

const SECTIONS = { cache: 'cache', database: 'db', outbox: 'outbox' } as const;

describe('the metrics of the /stats counters', () => {
  it('expose every counter of /stats under the name docs/monitoring.md gives it', async () => {
    const { cache, users, instance } = await appFixture();
    // The real counters' fields, each with a value of its own: a metric reading the wrong field shows.
    let next = 0;
    const renumber = <T>(stats: T): T =>
      JSON.parse(JSON.stringify(stats), (_key, value) =>
        typeof value === 'number' ? ++next : value,
      );
    const outbox: OutboxRelayStats = {
      relayed: 0,
      batches: 0,
      setAside: 0,
      failures: 0,
      notifications: 0,
    };
    const stats = {
      cache: renumber(cache.stats()),
      database: renumber(users.stats()),
      outbox: renumber(outbox),
    };
    const metrics = createMetrics();
    metrics.collectFrom({
      cache: { stats: () => stats.cache },
      users: { stats: () => stats.database },
      outbox: { stats: () => stats.outbox },
      instance,
    });
    const families = parsePrometheusText(await metrics.scrape());

    const checked: string[] = [];
    for (const [section, fields] of Object.entries(stats)) {
      for (const [field, value] of Object.entries(fields as object)) {
        const path = `${section}.${field}`;
        const snake = field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
        const base = `cachelab_${SECTIONS[section as keyof typeof SECTIONS]}_${snake}`;
        const renamed = RENAMED[path];
        const metric: Metric | null =
          renamed === undefined ? [GAUGES.has(path) ? base : `${base}_total`] : renamed;
        if (metric === null) continue;
        const [family, labels = {}] = metric;
        const kind = family.endsWith('_total') ? 'counter' : 'gauge';
        expect(families.get(family)?.type, `${path} as ${family}`).toBe(kind);
        expect(families.get(family)?.help, family).not.toBe('');
        if (typeof labels === 'string') {
          for (const [key, count] of Object.entries(value as Record<string, number>)) {
            expect(sampleValue(families, family, { [labels]: key }), `${path}.${key}`).toBe(count);
          }
        } else {
          expect(sampleValue(families, family, labels), path).toBe(Number(value));
        }
        checked.push(path);
      }
    }
    // The six that once had no metric are among them.
    expect(checked).toEqual(
      expect.arrayContaining([
        'cache.announcements',
        'cache.leaseTimeouts',
        'cache.earlyRefreshes',
        'cache.earlyRefreshFailures',
        'outbox.batches',
        'outbox.notifications',
      ]),
    );
  });
});

describe('the HTTP request histogram', () => {
  it('puts each duration in its bucket, cumulatively, per label set', async () => {
    const metrics = createMetrics();
    for (const seconds of [0.0003, 0.002, 0.002, 10]) {
      metrics.observeRequest('GET', '/users/:id', 200, 'L1', seconds);
    }
    metrics.observeRequest('GET', '/users/:id', 404, 'MISS', 0.05);
    metrics.observeRequest('GET', '/stats', 200, 'none', 0.001);
    const families = parsePrometheusText(await metrics.scrape());
    const http = 'cachelab_http_request_duration_seconds';
    const l1 = { route: '/users/:id', status: '200', cache: 'L1' };
    const bucket = (le: string) => sampleValue(families, http, { ...l1, le }, `${http}_bucket`);
    expect([
      bucket('0.0005'),
      bucket('0.001'),
      bucket('0.0025'),
      bucket('5'),
      bucket('+Inf'),
    ]).toEqual([1, 1, 3, 3, 4]);
    expect(sampleValue(families, http, l1, `${http}_sum`)).toBeCloseTo(10.0043, 10);
    expect(sampleValue(families, http, l1, `${http}_count`)).toBe(4);
    expect(families.get(http)?.samples.filter((s) => s.name === `${http}_count`)).toHaveLength(3);
    expect(metrics.apiRequests()).toBe(5);
  });
});

describe('the Prometheus text parser', () => {
  it('rejects what a scraper would reject', () => {
    const ok = '# HELP a_total A.\n# TYPE a_total counter\na_total 1\n';
    expect(parsePrometheusText(ok).get('a_total')?.samples[0]?.value).toBe(1);
    const bad = [
      '# HELP a_total A.\n# TYPE a_total counter\na_total 1',
      '# HELP a_total A.\n# TYPE a_total counter\na_total one\n',
      '# HELP a_total A.\n# TYPE a_total counter\na_total 1\na_total 2\n',
      '# TYPE a_total counter\na_total 1\n',
      'a_total 1\n',
      '# HELP a A.\n# TYPE a gauge\na{x="1} 1\n',
      '# HELP a A.\n# TYPE a gauge\nb 1\n',
      '# HELP a A.\n# TYPE a gauge\na 1\n# HELP a A.\n# TYPE a gauge\n',
      '# HELP h H.\n# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
      '# HELP h H.\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 2\n',
      '# HELP h H.\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n',
    ];
    for (const text of bad) expect(() => parsePrometheusText(text), text).toThrow();
  });
});
