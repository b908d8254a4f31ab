import type { StatsResponse } from '@cachelab/app';
import { createKeys } from '@cachelab/cache';
import { waitFor } from '@cachelab/testkit';
import { createClient } from 'redis';
import { runLoad } from '../load.ts';
import type { BenchInstance, BenchServices } from '../services.ts';
import { startInstances } from '../services.ts';
import type { BenchSettings } from '../settings.ts';

/** One miss storm: a write, then many concurrent reads of that key over every instance. */
export interface StormRow {
  name: string;
  what: string;
  reads: number;
  /** Database reads each instance made for the storm (the write itself not counted). */
  dbQueriesPerInstance: number[];
  served: { L1: number; L2: number; MISS: number };
  /** Reads that answered a version older than the write (must be 0). */
  olderThanWrite: number;
}

/** Hit ratio and database load of a Zipf workload, with a cache and without. */
export interface ZipfResults {
  keys: number;
  requests: number;
  exponent: number;
  instances: number;
  hitRatio: number;
  l1Share: number;
  l2Share: number;
  dbQueriesWithCache: number;
  dbQueriesWithoutCache: number;
  /** 1 − with ÷ without. */
  dbQueriesSaved: number;
  requestsPerSecondWithCache: number;
  requestsPerSecondWithoutCache: number;
}

/** The storms section's results. */
export interface StormResults {
  storms: StormRow[];
  zipf: ZipfResults;
}

type Tier = keyof StormRow['served'];

async function allStats(instances: BenchInstance[]): Promise<StatsResponse[]> {
  return Promise.all(instances.map((instance) => instance.stats()));
}

/**
 * Warms `id` on every instance, writes it through the first one (optionally deleting its Redis
 * entries afterwards, as an eviction would), then fires `reads` concurrent reads spread over the
 * instances and counts the database reads each one made.
 */
async function storm(
  instances: BenchInstance[],
  options: {
    id: string;
    reads: number;
    waitForAnnouncement: boolean;
    evict?: { redisUrl: string; namespace: string };
  },
): Promise<Omit<StormRow, 'name' | 'what'>> {
  const path = `/users/${options.id}`;
  for (const instance of instances) for (let i = 0; i < 2; i++) await fetch(instance.url + path);
  const [writer, ...others] = instances as [BenchInstance, ...BenchInstance[]];
  const announced = await allStats(others);
  const response = await fetch(writer.url + path, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Storm', email: 'storm@example.com', age: 40 }),
  });
  const written = Number(response.headers.get('x-version'));
  if (options.evict) {
    const keys = createKeys(options.evict.namespace);
    const redis = createClient({ url: options.evict.redisUrl });
    await redis.connect();
    await redis.del([keys.pointer(`user:${options.id}`), keys.data(`user:${options.id}`, written)]);
    await redis.close();
  }
  if (options.waitForAnnouncement) {
    // Every other instance has dropped its old copy before the storm starts.
    await waitFor(
      async () =>
        (await allStats(others)).every(
          (s, i) =>
            s.cache.invalidationsReceived > (announced[i]?.cache.invalidationsReceived ?? 0),
        ),
      { timeoutMs: 5000, what: 'the announcement to reach every instance' },
    );
  }
  const before = await allStats(instances);
  const answers = await Promise.all(
    Array.from({ length: options.reads }, async (_, i) => {
      const r = await fetch((instances[i % instances.length] as BenchInstance).url + path);
      const body = (await r.json()) as { version?: number };
      return { tier: r.headers.get('x-cache') as Tier, version: body.version ?? 0 };
    }),
  );
  const after = await allStats(instances);
  const count = (tier: Tier) => answers.filter((a) => a.tier === tier).length;
  return {
    reads: options.reads,
    dbQueriesPerInstance: after.map(
      (s, i) => s.database.queries - (before[i]?.database.queries ?? 0),
    ),
    served: { L1: count('L1'), L2: count('L2'), MISS: count('MISS') },
    olderThanWrite: answers.filter((a) => a.version < written).length,
  };
}

function sum(stats: StatsResponse[], pick: (s: StatsResponse) => number): number {
  return stats.reduce((total, s) => total + pick(s), 0);
}

/** Runs the Zipf workload (same seed, same count) against `instances` and returns the deltas. */
async function zipfRun(settings: BenchSettings, instances: BenchInstance[]) {
  const { storms } = settings;
  const before = await allStats(instances);
  const result = await runLoad({
    urls: instances.map((i) => i.url),
    connections: storms.zipfConnections,
    amount: storms.zipfRequests,
    path: {
      kind: 'zipf',
      ids: settings.seedUsers,
      exponent: storms.zipfExponent,
      seed: storms.zipfSeed,
    },
  });
  const after = await allStats(instances);
  const diff = (pick: (s: StatsResponse) => number) => sum(after, pick) - sum(before, pick);
  return {
    reads: diff((s) => s.cache.reads),
    l1Hits: diff((s) => s.cache.l1Hits),
    l2Hits: diff((s) => s.cache.l2Hits),
    queries: diff((s) => s.database.queries),
    requestsPerSecond: result.requestsPerSecond,
  };
}

/**
 * Miss storms on a just-written hot key across instances (database reads per instance), and a
 * Zipf workload over every seeded user (hit ratio, database reads saved against no cache).
 */
export async function runStorms(
  settings: BenchSettings,
  services: BenchServices,
  log: (line: string) => void,
): Promise<StormResults> {
  const { storms } = settings;
  const common = {
    DB_LATENCY_MS: String(storms.dbLatencyMs),
    SEED_USERS: String(settings.seedUsers),
  };
  const cluster = (namespace: string, env: Record<string, string>, count: number) =>
    Array.from({ length: count }, (_, i) => ({
      INSTANCE_NAME: `${namespace}-${i + 1}`,
      CACHE_NAMESPACE: namespace,
      ...common,
      ...env,
    }));
  const n = storms.instances;
  const all = await startInstances(services, [
    ...cluster('storm-v', {}, n),
    ...cluster('storm-d', { CACHE_STRATEGY: 'delete' }, n),
    ...cluster('zipf-v', { DB_LATENCY_MS: '0' }, n),
    ...cluster('zipf-none', { DB_LATENCY_MS: '0', CACHE_STRATEGY: 'none' }, 1),
  ]);
  const versioned = all.slice(0, n);
  const classic = all.slice(n, 2 * n);
  const zipfCache = all.slice(2 * n, 3 * n);
  const zipfNone = all.slice(3 * n);
  try {
    const reads = storms.reads;
    const rows: StormRow[] = [
      {
        name: 'versioned',
        what: 'write through instance 1; Redis holds the new version',
        ...(await storm(versioned, { id: '1', reads, waitForAnnouncement: true })),
      },
      {
        name: 'versioned, evicted',
        what: 'write through instance 1, then its Redis entries deleted (as an eviction would)',
        ...(await storm(versioned, {
          id: '2',
          reads,
          evict: { redisUrl: services.redisUrl, namespace: 'storm-v' },
          waitForAnnouncement: true,
        })),
      },
      {
        name: 'delete (classic)',
        what: 'write through instance 1 (UPDATE, then DEL)',
        ...(await storm(classic, { id: '3', reads, waitForAnnouncement: false })),
      },
    ];
    for (const row of rows)
      log(
        `  storm ${row.name}: database reads per instance ${row.dbQueriesPerInstance.join(', ')}`,
      );
    const cached = await zipfRun(settings, zipfCache);
    const none = await zipfRun(settings, zipfNone);
    const zipf: ZipfResults = {
      keys: settings.seedUsers,
      requests: cached.reads,
      exponent: storms.zipfExponent,
      instances: n,
      hitRatio: (cached.l1Hits + cached.l2Hits) / cached.reads,
      l1Share: cached.l1Hits / cached.reads,
      l2Share: cached.l2Hits / cached.reads,
      dbQueriesWithCache: cached.queries,
      dbQueriesWithoutCache: none.queries,
      dbQueriesSaved: 1 - cached.queries / none.queries,
      requestsPerSecondWithCache: cached.requestsPerSecond,
      requestsPerSecondWithoutCache: none.requestsPerSecond,
    };
    log(
      `  zipf: hit ratio ${zipf.hitRatio.toFixed(3)}, database reads ${zipf.dbQueriesWithCache} vs ${zipf.dbQueriesWithoutCache} without cache`,
    );
    return { storms: rows, zipf };
  } finally {
    await Promise.all(all.map((instance) => instance.stop()));
  }
}
