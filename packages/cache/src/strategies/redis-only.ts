import { atLeast, checkEntry, minVersionOf } from '../codec.ts';
import { CacheError, cacheErrorCodes } from '../errors.ts';
import { jitterTtl } from '../jitter.ts';
import { checkKey } from '../keys.ts';
import { CORRUPT, createL2Store, type L2Store } from '../redis/l2-store.ts';
import { createSingleFlight } from '../single-flight.ts';
import { snapshotCounters } from '../stats.ts';
import type { Cache, CacheRead, Loaded, Loader, Strategy } from '../types.ts';
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
  const l2 = createL2Store(config.redis, context.keys, context.redisCall);
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
  async function load(key: string, loader: Loader<V>): Promise<Loaded<V>> {
    counters.loads++;
    const entry = checkEntry(await loader(key), 'the loader');
    await config.hooks.beforeFill?.(key, entry);
    const ttlMs = jitterTtl(
      entry.value === null ? config.negativeTtlMs : config.ttlMs,
      config.ttlJitter,
    );
    // A failed fill only costs a later miss; the loaded value is still the answer.
    await l2.write(key, entry, ttlMs).catch(context.redisFailed);
    return entry;
  }
  // #endregion tutorial:basic-load

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
      counters.reads++;
      const cached = await readL2(key);
      if (cached && cached.version >= minVersion) {
        counters.l2Hits++;
        if (cached.value === null) counters.negativeHits++;
        return { ...cached, tier: 'L2' };
      }
      counters.misses++;
      const joined = flights.has(key);
      let loaded = await flights.run(key, () => load(key, loader));
      // A load joined may have started before the write the token stands for (one this read
      // started itself cannot have). The reload is shared and capped too, or every waiting read
      // would make its own.
      if (joined && loaded.version < minVersion) {
        loaded = await flights.run(key, () => load(key, loader));
      }
      // Still below: the source of truth has not got the token's version. Never answer below it.
      return { ...atLeast(key, loaded, minVersion), tier: 'MISS' };
    },
    // #endregion tutorial:basic-read
    async set(key, written) {
      checkKey(key);
      checkEntry(written, 'set');
      counters.writes++;
      await onWrite(l2, key);
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
