import { atLeast, checkEntry, deletedVersion, minVersionOf, ttlMsOf } from '../codec.ts';
import { CacheError, cacheErrorCodes } from '../errors.ts';
import { checkKey } from '../keys.ts';
import { snapshotCounters } from '../stats.ts';
import type { Cache, CacheRead, Loaded } from '../types.ts';
import { countedAnnouncements, type StrategyContext } from './context.ts';

/**
 * `none`: no caching at all, the baseline that the other strategies are measured against. Every
 * read calls the loader (no L1, no Redis, and no single-flight either: concurrent reads of a key
 * each pay for their own load, and no cap on loads in flight beyond the pool); writes invalidate
 * nothing because nothing is kept.
 */
export function createNoCache<V>(context: StrategyContext): Cache<V> {
  const { counters } = context;
  let loadsInFlight = 0;
  return {
    // No L1: every read goes further.
    getLocal(key, _loader, options) {
      checkKey(key);
      minVersionOf(options);
      return undefined;
    },
    async getOrLoad(key, loader, options): Promise<CacheRead<V>> {
      checkKey(key);
      const minVersion = minVersionOf(options);
      counters.reads++;
      counters.misses++;
      counters.loads++;
      loadsInFlight++;
      try {
        // Nothing is shared or cached: this load read the source of truth after the read began.
        const loaded = atLeast(key, checkEntry(await loader(key), 'the loader'), minVersion);
        return { ...loaded, tier: 'MISS' };
      } finally {
        loadsInFlight--;
      }
    },
    // Nothing is cached: every `get` is a miss.
    async get(key, options) {
      checkKey(key);
      minVersionOf(options);
      ttlMsOf(options);
      counters.reads++;
      counters.misses++;
      return undefined;
    },
    async getMany(keys, loader, options): Promise<CacheRead<V>[]> {
      for (const key of keys) checkKey(key);
      const minVersion = minVersionOf(options);
      ttlMsOf(options);
      const unique = [...new Set(keys)];
      counters.reads += unique.length;
      counters.misses += unique.length;
      counters.loads++;
      loadsInFlight++;
      try {
        const entries = await loader(unique);
        if (!Array.isArray(entries) || entries.length !== unique.length) {
          throw new CacheError(
            cacheErrorCodes.invalidEntry,
            'the batch loader must give one entry per key',
          );
        }
        const answers = new Map(
          unique.map((key, i) => [key, checkEntry(entries[i] as Loaded<V>, 'the loader')]),
        );
        return keys.map((key) => ({
          ...atLeast(key, answers.get(key) as Loaded<V>, minVersion),
          tier: 'MISS',
        }));
      } finally {
        loadsInFlight--;
      }
    },
    async set(key, written, options) {
      checkKey(key);
      ttlMsOf(options);
      checkEntry(written, 'set');
      counters.writes++;
    },
    async delete(key, options) {
      checkKey(key);
      deletedVersion(options);
      counters.writes++;
    },
    clear: async () => {},
    ...countedAnnouncements(counters),
    stats: () => ({
      ...snapshotCounters(counters),
      strategy: 'none',
      trusted: false,
      l1Size: 0,
      l1Evictions: 0,
      highWaterMarks: 0,
      pendingInvalidations: 0,
      loadsInFlight,
      propagationMs: { count: 0, last: null, p50: null, p99: null, max: null },
    }),
    close: async () => {},
  };
}
