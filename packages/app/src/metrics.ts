import type { CacheEvents, CacheStats } from '@cachelab/cache';
import type { OutboxRelayStats, QueryEvent, StoreStats } from '@cachelab/store';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { InstanceIdentity } from './deps.ts';

/** Routes of the ops endpoints: not counted as API requests in `/stats`. */
const OPS_ROUTES = new Set(['/healthz', '/readyz', '/stats', '/metrics']);

/** Bucket bounds in seconds: an L1 hit is well under a millisecond, a miss waits for the database. */
const HTTP_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const PROPAGATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const DB_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Where scrape-time counters come from: the cache's and the repository's own `stats()`. */
export interface MetricSources {
  cache: { stats(): CacheStats };
  users: { stats(): StoreStats };
  /** The outbox relay, when the instance runs one. */
  outbox?: { stats(): OutboxRelayStats };
  instance: InstanceIdentity;
}

/** One instance's metrics: a registry of its own, so that one process can hold several apps. */
export interface AppMetrics {
  /** Serves `/metrics`. */
  readonly registry: Registry;
  /** Give to `createCache({ events })`: feeds the propagation delay histogram. */
  readonly cacheEvents: CacheEvents;
  /** Give to `createUsersRepository({ onQuery })`: feeds the query latency histogram. */
  readonly onQuery: (event: QueryEvent) => void;
  /** Records one answered request; `route` is the matched pattern, never the raw path. */
  observeRequest(
    method: string,
    route: string,
    status: number,
    tier: string,
    seconds: number,
  ): void;
  /** Requests answered so far, the ops endpoints excluded. */
  apiRequests(): number;
  /** Reads the cache and database counters from `sources` at every scrape. Call once. */
  collectFrom(sources: MetricSources): void;
  /** The exposition text, from one consistent snapshot of the cache's counters. */
  scrape(): Promise<string>;
}

/** Creates the registry with the default process metrics, the histograms and the event feeds. */
export function createMetrics(): AppMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  // Labelled by route pattern, never the raw path, so the label sets stay bounded.
  const http = new Histogram({
    name: 'cachelab_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by route pattern, method, status and X-Cache tier.',
    labelNames: ['method', 'route', 'status', 'cache'] as const,
    buckets: HTTP_BUCKETS,
    registers,
  });
  const propagation = new Histogram({
    name: 'cachelab_cache_propagation_delay_seconds',
    help: 'Delay from publishing an invalidation on one instance to receiving it on this one.',
    buckets: PROPAGATION_BUCKETS,
    registers,
  });
  const queries = new Histogram({
    name: 'cachelab_db_query_duration_seconds',
    help: 'Database query latency (simulated latency included), by operation and outcome.',
    labelNames: ['operation', 'outcome'] as const,
    buckets: DB_BUCKETS,
    registers,
  });
  // route → method → status → X-Cache tier → the histogram's child of those labels.
  const requestsBy = new Map<
    string,
    Map<string, Map<number, Map<string, { observe(value: number): void }>>>
  >();
  let apiRequests = 0;
  // Taken once per scrape, so that every family reports the same moment (and stats() is cheap
  // but not free: it summarises the propagation samples).
  let snapshot: CacheStats | undefined;
  let sources: MetricSources | undefined;

  return {
    registry,
    cacheEvents: { propagated: (delayMs) => propagation.observe(delayMs / 1000) },
    onQuery: ({ operation, durationMs, ok }) =>
      queries.observe({ operation, outcome: ok ? 'ok' : 'error' }, durationMs / 1000),
    observeRequest(method, route, status, tier, seconds) {
      if (!OPS_ROUTES.has(route)) apiRequests++;
      // Each label set's child is made once and found again without building a key: prom-client
      // hashes a label object (its keys sorted) on every observe, which every L1 hit would pay.
      const byStatus = requestsBy.get(route)?.get(method) ?? new Map();
      const byTier = byStatus.get(status) ?? new Map();
      let child = byTier.get(tier);
      if (child === undefined) {
        child = http.labels({ method, route, status: String(status), cache: tier });
        byTier.set(tier, child);
        byStatus.set(status, byTier);
        const byMethod = requestsBy.get(route) ?? new Map();
        byMethod.set(method, byStatus);
        requestsBy.set(route, byMethod);
      }
      child.observe(seconds);
    },
    apiRequests: () => apiRequests,
    collectFrom(from) {
      if (sources) throw new Error('collectFrom() was already called on these metrics');
      sources = from;
      registerCollectors(registry, from, () => snapshot ?? from.cache.stats());
    },
    async scrape() {
      snapshot = sources?.cache.stats();
      try {
        return await registry.metrics();
      } finally {
        snapshot = undefined;
      }
    },
  };
}

/** A `[labels, value]` pair read from a stats snapshot. */
type Sample = [Record<string, string>, number];

/** A counter whose value is read from `read()` at scrape time instead of being incremented. */
function scrapedCounter(
  registry: Registry,
  name: string,
  help: string,
  read: () => number | Sample[],
): void {
  const first = read();
  const labelNames = typeof first === 'number' ? [] : Object.keys(first[0]?.[0] ?? {});
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      const value = read();
      this.reset();
      if (typeof value === 'number') this.inc(value);
      else for (const [labels, count] of value) this.inc(labels, count);
    },
  });
}

/** A gauge read at scrape time. */
function scrapedGauge(registry: Registry, name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

/** Cache counters, each `[name, help, read]`; one `stats()` snapshot per scrape serves them all. */
function cacheCounters(stats: () => CacheStats): [string, string, () => number | Sample[]][] {
  const c = 'cachelab_cache_';
  return [
    [`${c}reads_total`, 'Cache reads (getOrLoad calls).', () => stats().reads],
    [
      `${c}hits_total`,
      'Reads answered by a cache tier (L1 in-process, L2 Redis).',
      () => [
        [{ tier: 'L1' }, stats().l1Hits],
        [{ tier: 'L2' }, stats().l2Hits],
      ],
    ],
    [`${c}misses_total`, 'Reads that needed the loader.', () => stats().misses],
    [`${c}negative_hits_total`, 'Hits on a cached "not found".', () => stats().negativeHits],
    [`${c}loads_total`, 'Loader calls (single-flight joins misses).', () => stats().loads],
    [
      `${c}strict_checks_total`,
      'Strict reads whose L1 version Redis confirmed or refuted.',
      () => [
        [{ result: 'confirmed' }, stats().strictConfirmed],
        [{ result: 'refuted' }, stats().strictRefuted],
      ],
    ],
    [`${c}l2_stale_total`, 'Redis entries skipped as older than announced.', () => stats().l2Stale],
    [
      `${c}fills_rejected_total`,
      'L1 fills refused, by reason.',
      () => Object.entries(stats().fillsRejected).map(([reason, n]): Sample => [{ reason }, n]),
    ],
    [`${c}redis_errors_total`, 'Redis calls that failed or timed out.', () => stats().redisErrors],
    [
      `${c}redis_skipped_total`,
      'Redis calls skipped (failed at once): Redis had not answered since a timeout, or was being checked for a restored snapshot.',
      () => stats().redisSkipped,
    ],
    [`${c}corrupt_entries_total`, 'Undecodable Redis entries.', () => stats().corruptEntries],
    [`${c}writes_total`, 'Writes handled (cache.set calls).', () => stats().writes],
    [
      `${c}announcements_total`,
      'Versions announced without a value (announce/announceMany entries).',
      () => stats().announcements,
    ],
    [`${c}invalidations_sent_total`, 'Invalidations published.', () => stats().invalidationsSent],
    [
      `${c}invalidations_received_total`,
      'Invalidations received from other instances.',
      () => stats().invalidationsReceived,
    ],
    [
      `${c}messages_rejected_total`,
      'Messages on the channel rejected, by reason (malformed, unsigned, forged).',
      () => Object.entries(stats().messagesRejected).map(([reason, n]): Sample => [{ reason }, n]),
    ],
    [`${c}publish_failures_total`, 'Failed publish attempts.', () => stats().publishFailures],
    [
      `${c}invalidations_retried_total`,
      'Invalidations that went through on a background retry.',
      () => stats().invalidationsRetried,
    ],
    [
      `${c}invalidation_failures_total`,
      'Invalidations given up (stale up to the TTL).',
      () => stats().invalidationFailures,
    ],
    [`${c}trust_lost_total`, 'Times L1 stopped being trusted.', () => stats().trustLost],
    [
      `${c}subscriber_reconnects_total`,
      'Subscriber recoveries (trust regained after a loss).',
      () => stats().subscriberReconnects,
    ],
    [
      `${c}stalls_total`,
      'Event-loop stalls that withheld L1 until an own heartbeat returned.',
      () => stats().stalls,
    ],
    [`${c}l1_flushes_total`, 'L1 flushes (one per recovery).', () => stats().l1Flushes],
    [`${c}l1_evictions_total`, 'L1 entries evicted by the size bound.', () => stats().l1Evictions],
    [
      `${c}degraded_reads_total`,
      'Reads that went to the database because Redis failed or timed out.',
      () => stats().degradedReads,
    ],
    [
      `${c}loads_shed_total`,
      'Misses refused at once because too many loads were in flight.',
      () => stats().loadsShed,
    ],
    [
      `${c}stale_served_total`,
      'Reads answered with an expired copy because the database failed (STALE_IF_ERROR_MS).',
      () => stats().staleServed,
    ],
    [
      `${c}lease_waits_total`,
      "Misses answered by another instance's load (the load lease) instead of a database read.",
      () => stats().leaseWaits,
    ],
    [
      `${c}lease_timeouts_total`,
      "Waits for another instance's load that ended without its fill (then loaded here).",
      () => stats().leaseTimeouts,
    ],
    [
      `${c}early_refreshes_total`,
      'Background reloads started by an L1 hit near its expiry (EARLY_REFRESH).',
      () => stats().earlyRefreshes,
    ],
    [
      `${c}early_refresh_failures_total`,
      'Background reloads near expiry that failed (the entry then simply expires).',
      () => stats().earlyRefreshFailures,
    ],
  ];
}

/** Registers the scrape-time counters and gauges over `sources`. */
function registerCollectors(
  registry: Registry,
  sources: MetricSources,
  stats: () => CacheStats,
): void {
  for (const [name, help, read] of cacheCounters(stats)) scrapedCounter(registry, name, help, read);

  const c = 'cachelab_cache_';
  scrapedGauge(registry, `${c}l1_entries`, 'Entries in L1.', () => stats().l1Size);
  scrapedGauge(registry, `${c}l1_trusted`, '1 while L1 is served.', () => +stats().trusted);
  scrapedGauge(
    registry,
    `${c}high_water_marks`,
    'Keys whose announced version is remembered.',
    () => stats().highWaterMarks,
  );
  scrapedGauge(
    registry,
    `${c}pending_invalidations`,
    'Invalidations waiting for Redis.',
    () => stats().pendingInvalidations,
  );
  scrapedGauge(
    registry,
    `${c}loads_in_flight`,
    'Distinct keys being loaded from the database now.',
    () => stats().loadsInFlight,
  );
  const outbox = (read: (stats: OutboxRelayStats) => number) => () => {
    const relay = sources.outbox?.stats();
    return relay ? read(relay) : 0;
  };
  scrapedCounter(
    registry,
    'cachelab_outbox_relayed_total',
    'Outbox rows (versions committed in the database) announced to the caches by this instance.',
    outbox((s) => s.relayed),
  );
  scrapedCounter(
    registry,
    'cachelab_outbox_batches_total',
    'Outbox batches announced to the caches by this instance.',
    outbox((s) => s.batches),
  );
  scrapedCounter(
    registry,
    'cachelab_outbox_set_aside_total',
    'Outbox rows set aside as unannounceable (key outside the scheme, bad version).',
    outbox((s) => s.setAside),
  );
  scrapedCounter(
    registry,
    'cachelab_outbox_failures_total',
    'Outbox batches whose claim, announcement or deletion failed (retried).',
    outbox((s) => s.failures),
  );
  scrapedCounter(
    registry,
    'cachelab_outbox_notifications_total',
    'Database notifications (LISTEN) that woke the outbox relay; 0 where none are delivered.',
    outbox((s) => s.notifications),
  );
  scrapedCounter(
    registry,
    'cachelab_db_queries_total',
    'Queries sent to the database.',
    () => sources.users.stats().queries,
  );
  scrapedCounter(
    registry,
    'cachelab_db_query_errors_total',
    'Database queries that failed.',
    () => sources.users.stats().errors,
  );
  scrapedCounter(
    registry,
    'cachelab_db_failed_fast_total',
    'Queries refused at once while the database was known to be down.',
    () => sources.users.stats().failedFast,
  );
  const { name, id } = sources.instance;
  new Gauge({
    name: 'cachelab_instance_info',
    help: 'This instance: its name, the id it drew at start, and its cache strategy.',
    labelNames: ['name', 'id', 'strategy'] as const,
    registers: [registry],
  }).set({ name, id, strategy: sources.cache.stats().strategy }, 1);
}
