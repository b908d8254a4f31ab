import { CacheError } from '../errors.ts';
import { createKeys, type KeyBuilder } from '../keys.ts';
import type { ResolvedCacheOptions } from '../options.ts';
import { type Counters, createCounters } from '../stats.ts';

/** What every strategy is built from. */
export interface StrategyContext {
  config: ResolvedCacheOptions;
  keys: KeyBuilder;
  counters: Counters;
  /** Counts a failed or timed-out Redis call and reports it; the caller goes on without Redis. */
  redisFailed(error: unknown): void;
}

/** Builds the shared context of a strategy from resolved options. */
export function createContext(config: ResolvedCacheOptions): StrategyContext {
  const counters = createCounters();
  return {
    config,
    keys: createKeys(config.namespace),
    counters,
    redisFailed(error) {
      counters.redisErrors++;
      if (error instanceof CacheError) config.onError(error);
    },
  };
}
