import { CacheError, errors } from '../errors.ts';
import { createKeys, type KeyBuilder } from '../keys.ts';
import type { ResolvedCacheOptions } from '../options.ts';
import { createHealthGate, type RedisCall } from '../redis/health-gate.ts';
import { type Counters, createCounters } from '../stats.ts';

/** What every strategy is built from. */
export interface StrategyContext {
  config: ResolvedCacheOptions;
  keys: KeyBuilder;
  counters: Counters;
  /**
   * Every Redis call goes through here: bounded by `redisTimeoutMs`, and skipped (failing at
   * once) after a timeout until Redis answers again.
   */
  redisCall: RedisCall;
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
    redisCall: createHealthGate({
      timeoutMs: config.redisTimeoutMs,
      probeIntervalMs: config.heartbeatIntervalMs,
    }),
    redisFailed(error) {
      if (error instanceof CacheError && error.code === errors.redisSkipped) {
        counters.redisSkipped++;
        return;
      }
      counters.redisErrors++;
      if (error instanceof CacheError) config.onError(error);
    },
  };
}
