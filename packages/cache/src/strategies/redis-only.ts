import { atLeast, checkEntry, deletedVersion, minVersionOf, roundTrip, ttlMsOf } from '../codec.ts';
import { CacheError, cacheErrorCodes } from '../errors.ts';
import { jitterTtl } from '../jitter.ts';
import { checkKey } from '../keys.ts';
import { CORRUPT, createL2Store, type L2Store } from '../redis/l2-store.ts';
import { deleteMatching } from '../redis/namespace.ts';
import { createValueCodec } from '../serializer.ts';
import { createSingleFlight } from '../single-flight.ts';
import { snapshotCounters } from '../stats.ts';
import type {
  BatchLoader,
  Cache,
  CacheRead,
  Loaded,
  Loader,
  ReadOptions,
  Strategy,
} from '../types.ts';
import { countedAnnouncements, type StrategyContext } from './context.ts';

/** What a write does to Redis in a Redis-only strategy. */
type OnWrite = (l2: L2Store, key: string) => Promise<void>;

/**
 * `ttl-only`: classic cache-aside whose writes invalidate nothing. A cached value stays until its
 * TTL ends, so staleness after a write is bounded by the TTL alone.
 */
export function createTtlOnlyCache<V>(context: StrategyContext): Cache<V> {
  return createRedisOnlyCache<V>(context, 'ttl-only', async () => {});
}

/**
 * `delete`: classic cache-aside whose writes DEL the Redis entry (retried up to
 * `invalidateAttempts`). It has the stale-set race: a reader that loaded the old row before the
 * write can store it again after the DEL, and it stays until its TTL ends.
 */
// #region tutorial:delete-on-write
export function createDeleteCache<V>(context: StrategyContext): Cache<V> {
  const { config, counters } = context;
  return createRedisOnlyCache<V>(context, 'delete', async (l2, key) => {
    for (let attempt = 1; attempt <= config.invalidateAttempts; attempt++) {
      try {
        await l2.remove(key);
        return;
      } catch (error) {
        context.redisFailed(error);
      }
    }
    counters.invalidationFailures++;
    config.onError(
      new CacheError(
        cacheErrorCodes.invalidationFailed,
        `could not DEL ${key}; stale for up to the TTL`,
      ),
    );
  });
}
// #endregion tutorial:delete-on-write

/**
 * Cache-aside with Redis as the only tier: reads check Redis; a miss calls the loader once per
 * key (concurrent misses share it) and stores the answer with a TTL, a short one for "not found".
 */
function createRedisOnlyCache<V>(
  context: StrategyContext,
  strategy: Strategy,
  onWrite: OnWrite,
): Cache<V> {
  const { config, counters } = context;
  const codec = createValueCodec<V>(config.serializer);
  const l2 = createL2Store(
    config.redis,
    context.keys,
    context.redisCall,
    codec as ReturnType<typeof createValueCodec<unknown>>,
  );
  const flights = createSingleFlight<Loaded<V>>({
    maxInFlight: config.maxConcurrentLoads,
    onShed: () => counters.loadsShed++,
  });

  async function readL2(key: string): Promise<Loaded<V> | undefined> {
    try {
      const entry = await l2.read<V>(key);
      if (entry !== CORRUPT) return entry;
      counters.corruptEntries++;
      config.onError(new CacheError(cacheErrorCodes.corruptEntry, `undecodable entry for ${key}`));
    } catch (error) {
      counters.degradedReads++;
      context.redisFailed(error);
    }
    return undefined;
  }

  // #region tutorial:basic-load
  async function load(key: string, loader: Loader<V>, ttlMs?: number): Promise<Loaded<V>> {
    counters.loads++;
    return store(key, checkEntry(await loader(key), 'the loader'), ttlMs);
  }

  /** Stores a loaded entry in Redis; returns it as Redis will give it back (round-tripped). */
  async function store(key: string, loaded: Loaded<V>, ttlMs = config.ttlMs) {
    const { entry } = roundTrip(codec, loaded, 'the loader');
    await config.hooks.beforeFill?.(key, entry);
    const ttl = jitterTtl(entry.value === null ? config.negativeTtlMs : ttlMs, config.ttlJitter);
    // A failed fill only costs a later miss; the loaded value is still the answer.
    await l2.write(key, entry, ttl).catch(context.redisFailed);
    return entry;
  }
  // #endregion tutorial:basic-load

  /** Redis's entry of `key` if at `minVersion` or above, counted as a hit. */
  async function fromRedis(key: string, minVersion: number): Promise<CacheRead<V> | undefined> {
    const entry = await readL2(key);
    if (!entry || entry.version < minVersion) return undefined;
    counters.l2Hits++;
    if (entry.value === null) counters.negativeHits++;
    return { ...entry, tier: 'L2' };
  }

  /** One loader call for `keys`, each stored as a single load's answer would be. */
  async function loadBatch(keys: readonly string[], loader: BatchLoader<V>, ttlMs?: number) {
    counters.loads++;
    const entries = await loader(keys);
    if (!Array.isArray(entries) || entries.length !== keys.length) {
      throw new CacheError(
        cacheErrorCodes.invalidEntry,
        'the batch loader must give one entry per key',
      );
    }
    return Promise.all(
      keys.map((key, i) => store(key, checkEntry(entries[i] as Loaded<V>, 'the loader'), ttlMs)),
    );
  }

  async function getMany(
    keys: readonly string[],
    loader: BatchLoader<V>,
    options: ReadOptions = {},
  ): Promise<CacheRead<V>[]> {
    for (const key of keys) checkKey(key);
    const minVersion = minVersionOf(options);
    const ttlMs = ttlMsOf(options);
    const unique = [...new Set(keys)];
    counters.reads += unique.length;
    const hits = await Promise.all(unique.map((key) => fromRedis(key, minVersion)));
    const answers = new Map<string, CacheRead<V>>();
    const missing = unique.filter((key, i) => {
      const hit = hits[i];
      if (hit) answers.set(key, hit);
      return !hit;
    });
    if (missing.length > 0) {
      counters.misses += missing.length;
      // Keys loading already join their load; the others go to one loader call.
      const loads = new Map<string, Promise<Loaded<V>>>();
      for (const key of missing) {
        const joined = flights.joined(key);
        if (joined) loads.set(key, joined);
      }
      const fresh = missing.filter((key) => !loads.has(key));
      if (fresh.length > 0) {
        const started = flights.runMany(fresh, () => loadBatch(fresh, loader, ttlMs));
        for (const [i, key] of fresh.entries()) loads.set(key, started[i] as Promise<Loaded<V>>);
      }
      const loaded = await Promise.all(missing.map((key) => loads.get(key) as Promise<Loaded<V>>));
      missing.forEach((key, i) => {
        answers.set(key, { ...atLeast(key, loaded[i] as Loaded<V>, minVersion), tier: 'MISS' });
      });
    }
    return keys.map((key) => answers.get(key) as CacheRead<V>);
  }

  async function set(key: string, written: Loaded<V>, options?: { ttlMs?: number }) {
    checkKey(key);
    ttlMsOf(options);
    checkEntry(written, 'set');
    counters.writes++;
    await onWrite(l2, key);
  }

  return {
    // No L1: every read goes further.
    getLocal(key, _loader, options) {
      checkKey(key);
      minVersionOf(options);
      return undefined;
    },
    // #region tutorial:basic-read
    async getOrLoad(key, loader, options = {}): Promise<CacheRead<V>> {
      checkKey(key);
      const minVersion = minVersionOf(options);
      const ttlMs = ttlMsOf(options);
      counters.reads++;
      const cached = await readL2(key);
      if (cached && cached.version >= minVersion) {
        counters.l2Hits++;
        if (cached.value === null) counters.negativeHits++;
        return { ...cached, tier: 'L2' };
      }
      counters.misses++;
      const joined = flights.has(key);
      let loaded = await flights.run(key, () => load(key, loader, ttlMs));
      // A load joined may have started before the write the token stands for (one this read
      // started itself cannot have). The reload is shared and capped too, or every waiting read
      // would make its own.
      if (joined && loaded.version < minVersion) {
        loaded = await flights.run(key, () => load(key, loader, ttlMs));
      }
      // Still below: the source of truth has not got the token's version. Never answer below it.
      return { ...atLeast(key, loaded, minVersion), tier: 'MISS' };
    },
    // #endregion tutorial:basic-read
    async get(key, options = {}) {
      checkKey(key);
      const minVersion = minVersionOf(options);
      ttlMsOf(options);
      counters.reads++;
      const hit = await fromRedis(key, minVersion);
      if (!hit) counters.misses++;
      return hit;
    },
    getMany,
    set,
    delete: (key, options) => set(key, { value: null, version: deletedVersion(options) }),
    async clear() {
      await deleteMatching(config.redis, context.keys.pattern(), context.redisCall);
    },
    ...countedAnnouncements(counters),
    stats: () => ({
      ...snapshotCounters(counters),
      strategy,
      trusted: false,
      l1Size: 0,
      l1Evictions: 0,
      highWaterMarks: 0,
      pendingInvalidations: 0,
      loadsInFlight: flights.size,
      propagationMs: { count: 0, last: null, p50: null, p99: null, max: null },
    }),
    close: async () => {},
  };
}
