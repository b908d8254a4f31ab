import { type CacheOptions, resolveOptions } from './options.ts';
import { createContext, type StrategyContext } from './strategies/context.ts';
import { createNoCache } from './strategies/none.ts';
import { createDeleteCache, createTtlOnlyCache } from './strategies/redis-only.ts';
import { createVersionedCache } from './strategies/versioned/index.ts';
import type { Cache } from './types.ts';

/**
 * Creates a cache-aside cache over Redis with the chosen strategy (default `versioned`: an
 * in-process L1, versioned Redis entries and Pub/Sub invalidation). Reads never fail because of
 * Redis: without it they go to the loader. Call `close()` when done; the Redis clients stay open.
 */
export function createCache<V>(options: CacheOptions): Cache<V> {
  const config = resolveOptions(options);
  const context = createContext(config);
  return createStrategy<V>(config.strategy, context);
}

function createStrategy<V>(strategy: CacheOptions['strategy'], context: StrategyContext): Cache<V> {
  switch (strategy) {
    case 'ttl-only':
      return createTtlOnlyCache<V>(context);
    case 'delete':
      return createDeleteCache<V>(context);
    case 'none':
      return createNoCache<V>(context);
    default:
      return createVersionedCache<V>(context);
  }
}
