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
