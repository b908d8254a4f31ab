import { CacheError, errors } from './errors.ts';
import { checkKey, createKeys } from './keys.ts';
import { type CacheOptions, resolveOptions } from './options.ts';
import { CORRUPT, createL2Store } from './redis/l2-store.ts';
import { createSingleFlight } from './single-flight.ts';
import type { Cache, CacheRead, CacheStats, Loaded, Loader } from './types.ts';

/**
 * Creates a cache-aside cache over Redis: reads check Redis, and on a miss call the loader once per
 * key (concurrent misses share the load) and store its answer with a TTL — a short one for "not
 * found". Writes call {@link Cache.invalidate}, which deletes the Redis entry so the next read loads
 * the new value. Redis failures never fail a read: it goes to the loader instead.
 */
export function createCache<V>(options: CacheOptions): Cache<V> {
  const config = resolveOptions(options);
  const l2 = createL2Store(config.redis, createKeys(config.namespace), config.redisTimeoutMs);
  const loadOnce = createSingleFlight<Loaded<V>>();
  const counters: CacheStats = {
    reads: 0,
    l1Hits: 0,
    l2Hits: 0,
    misses: 0,
    negativeHits: 0,
    loads: 0,
    redisErrors: 0,
    corruptEntries: 0,
    invalidations: 0,
    invalidationFailures: 0,
  };

  function degraded(error: unknown): void {
    counters.redisErrors++;
    if (error instanceof CacheError) config.onError(error);
  }

  async function readL2(key: string): Promise<Loaded<V> | undefined> {
    try {
      const entry = await l2.read<V>(key);
      if (entry !== CORRUPT) return entry;
      counters.corruptEntries++;
      config.onError(new CacheError(errors.corruptEntry, `undecodable entry for ${key}`));
    } catch (error) {
      degraded(error);
    }
    return undefined;
  }

  async function load(key: string, loader: Loader<V>): Promise<Loaded<V>> {
    counters.loads++;
    const entry = await loader(key);
    const ttlMs = entry.value === null ? config.negativeTtlMs : config.ttlMs;
    // A failed fill only costs a later miss; the loaded value is still the answer.
    await l2.write(key, entry, ttlMs).catch(degraded);
    return entry;
  }

  return {
    async getOrLoad(key, loader): Promise<CacheRead<V>> {
      checkKey(key);
      counters.reads++;
      const cached = await readL2(key);
      if (cached) {
        counters.l2Hits++;
        if (cached.value === null) counters.negativeHits++;
        return { ...cached, tier: 'L2' };
      }
      counters.misses++;
      const loaded = await loadOnce(key, () => load(key, loader));
      return { ...loaded, tier: 'MISS' };
    },

    async invalidate(key) {
      checkKey(key);
      counters.invalidations++;
      for (let attempt = 1; attempt <= config.invalidateAttempts; attempt++) {
        try {
          await l2.remove(key);
          return;
        } catch (error) {
          degraded(error);
        }
      }
      counters.invalidationFailures++;
      config.onError(
        new CacheError(
          errors.invalidationFailed,
          `could not invalidate ${key}; stale for up to the TTL`,
        ),
      );
    },

    stats: () => ({ ...counters }),
  };
}
