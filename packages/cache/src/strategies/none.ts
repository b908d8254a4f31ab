import { checkEntry } from '../codec.ts';
import { checkKey } from '../keys.ts';
import { snapshotCounters } from '../stats.ts';
import type { Cache } from '../types.ts';
import type { StrategyContext } from './context.ts';

/**
 * `none`: no cache at all. Every read calls the loader (no Redis, no L1, no sharing of concurrent
 * loads) and writes do nothing: the baseline that the other strategies are measured against.
 */
export function createNoCache<V>(context: StrategyContext): Cache<V> {
  const { counters } = context;
  return {
    async getOrLoad(key, loader) {
      checkKey(key);
      counters.reads++;
      counters.misses++;
      counters.loads++;
      const entry = checkEntry(await loader(key), 'the loader');
      return { ...entry, tier: 'MISS' };
    },
    async invalidate(key, written) {
      checkKey(key);
      checkEntry(written, 'invalidate');
      counters.invalidations++;
    },
    stats: () => ({
      ...snapshotCounters(counters),
      strategy: 'none',
      trusted: false,
      l1Size: 0,
      l1Evictions: 0,
      highWaterMarks: 0,
      pendingInvalidations: 0,
      propagationMs: { count: 0, last: null, p50: null, p99: null, max: null },
    }),
    close: async () => {},
  };
}
