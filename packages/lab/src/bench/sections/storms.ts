import { setTimeout as delay } from 'node:timers/promises';
import type { StatsResponse } from '@cachelab/app';
import { createKeys } from '@cachelab/cache';
import { waitFor } from '@cachelab/testkit';
import { createClient } from 'redis';
import { runLoad } from '../load.ts';
import type { BenchInstance, BenchServices } from '../services.ts';
import { startInstances } from '../services.ts';
import type { BenchSettings } from '../settings.ts';

/** One miss storm: a write or an eviction, then many concurrent reads of that key over every instance. */
export interface StormRow {
  name: string;
  what: string;
  reads: number;
  /** Database reads each instance made for the storm (the write itself not counted). */
  dbQueriesPerInstance: number[];
  served: { L1: number; L2: number; MISS: number };
  /** Reads that answered a version older than the write (or, after an eviction, than the warm one): must be 0. */
  olderThanWrite: number;
  /**
   * The load lease over the cluster during the storm (the instances' `/stats`): reads served by
   * waiting for another instance's load, waits that gave up and loaded (lease expired, released
   * without a usable fill, or Redis unreadable), and Redis reads that failed.
   */
  lease: { waits: number; timeouts: number; degradedReads: number };
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

/** L1 TTL of the evicted storm's cluster, in ms: how long the bench waits for every copy to expire. */
const EVICTED_L1_TTL_MS = 1000;

async function allStats(instances: BenchInstance[]): Promise<StatsResponse[]> {
  return Promise.all(instances.map((instance) => instance.stats()));
}

/** What happens to the warm key before the storm. */
type StormCause =
  /** A write through the first instance; with `waitForAnnouncement`, every other one heard it. */
  | { kind: 'write'; waitForAnnouncement: boolean }
  /**
   * Nothing is written: the key's Redis entries (pointer, data, lease) are deleted, as an eviction
   * would, on the bench's own Redis, and every instance's L1 copy expires (`l1TtlMs`, which must be
   * the instances' `L1_TTL_MS`): the key is missing everywhere.
   */
  | { kind: 'evict'; redisUrl: string; namespace: string; l1TtlMs: number };

/**
 * Warms `id` on every instance, then writes it or evicts it everywhere (see {@link StormCause}),
 * then fires `reads` concurrent reads spread over the instances and counts the database reads
 * each one made.
 */
export async function storm(
  instances: BenchInstance[],
  options: { id: string; reads: number; cause: StormCause },
): Promise<Omit<StormRow, 'name' | 'what'>> {
  const path = `/users/${options.id}`;
  let warm = 0;
  for (const instance of instances) {
    for (let i = 0; i < 2; i++) {
      const body = (await (await fetch(instance.url + path)).json()) as { version?: number };
      warm = Math.max(warm, body.version ?? 0);
    }
  }
  const [writer, ...others] = instances as [BenchInstance, ...BenchInstance[]];
  const { cause } = options;
  let floor = warm;
  if (cause.kind === 'write') {
    const announced = await allStats(others);
    const response = await fetch(writer.url + path, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Storm', email: 'storm@example.com', age: 40 }),
    });
    floor = Number(response.headers.get('x-version'));
    if (cause.waitForAnnouncement) {
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
  } else {
    const evictedAt = performance.now();
    const keys = createKeys(cause.namespace);
    const key = `user:${options.id}`;
    const redis = createClient({ url: cause.redisUrl });
    redis.on('error', () => {}); // connect() and the command report it
    await redis.connect();
    await redis.del([keys.pointer(key), keys.data(key, warm), keys.lease(key)]);
    await redis.close();
    // L1 expiry is time itself: wait it out (with a margin), measured from the eviction.
    await delay(Math.max(0, evictedAt + cause.l1TtlMs + 50 - performance.now()));
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
  const diff = (pick: (s: StatsResponse) => number) => sum(after, pick) - sum(before, pick);
  return {
    reads: options.reads,
    dbQueriesPerInstance: after.map(
      (s, i) => s.database.queries - (before[i]?.database.queries ?? 0),
    ),
    served: { L1: count('L1'), L2: count('L2'), MISS: count('MISS') },
    olderThanWrite: answers.filter((a) => a.version < floor).length,
    lease: {
      waits: diff((s) => s.cache.leaseWaits),
      timeouts: diff((s) => s.cache.leaseTimeouts),
      degradedReads: diff((s) => s.cache.degradedReads),
    },
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
    // Jitter only shortens a TTL: every L1 copy is gone EVICTED_L1_TTL_MS after its fill.
    ...cluster('storm-e', { L1_TTL_MS: String(EVICTED_L1_TTL_MS) }, n),
    ...cluster('storm-d', { CACHE_STRATEGY: 'delete' }, n),
    ...cluster('zipf-v', { DB_LATENCY_MS: '0' }, n),
    ...cluster('zipf-none', { DB_LATENCY_MS: '0', CACHE_STRATEGY: 'none' }, 1),
  ]);
  const versioned = all.slice(0, n);
  const evicted = all.slice(n, 2 * n);
  const classic = all.slice(2 * n, 3 * n);
  const zipfCache = all.slice(3 * n, 4 * n);
  const zipfNone = all.slice(4 * n);
  try {
    const reads = storms.reads;
    const rows: StormRow[] = [
      {
        name: 'versioned',
        what: 'write through instance 1; Redis holds the new version',
        ...(await storm(versioned, {
          id: '1',
          reads,
          cause: { kind: 'write', waitForAnnouncement: true },
        })),
      },
      {
        name: 'versioned, evicted',
        what: `no write: the key deleted from Redis (as an eviction would) and expired from every L1 (L1_TTL_MS=${EVICTED_L1_TTL_MS}), so missing everywhere`,
        ...(await storm(evicted, {
          id: '2',
          reads,
          cause: {
            kind: 'evict',
            redisUrl: services.redisUrl,
            namespace: 'storm-e',
            l1TtlMs: EVICTED_L1_TTL_MS,
          },
        })),
      },
      {
        name: 'delete (classic)',
        what: 'write through instance 1 (UPDATE, then DEL)',
        ...(await storm(classic, {
          id: '3',
          reads,
          cause: { kind: 'write', waitForAnnouncement: false },
        })),
      },
    ];
    for (const row of rows)
      log(
        `  storm ${row.name}: database reads per instance ${row.dbQueriesPerInstance.join(', ')}; lease waits ${row.lease.waits}, timeouts ${row.lease.timeouts}`,
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
