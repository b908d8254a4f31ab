import { checkAnnounced } from '../codec.ts';
import { CacheError, cacheErrorCodes } from '../errors.ts';
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
  /** Calls `listener` whenever Redis answers again after calls to it were skipped. */
  onRedisBack(listener: () => void): void;
}

/** Builds the shared context of a strategy from resolved options. */
export function createContext(config: ResolvedCacheOptions): StrategyContext {
  const counters = createCounters();
  const backListeners: (() => void)[] = [];
  return {
    config,
    keys: createKeys(config.namespace),
    counters,
    redisCall: createHealthGate({
      timeoutMs: config.redisTimeoutMs,
      probeIntervalMs: config.heartbeatIntervalMs,
      onOpen: () => {
        for (const listener of backListeners) listener();
      },
    }),
    onRedisBack(listener) {
      backListeners.push(listener);
    },
    redisFailed(error) {
      if (error instanceof CacheError && error.code === cacheErrorCodes.redisSkipped) {
        counters.redisSkipped++;
        return;
      }
      counters.redisErrors++;
      if (error instanceof CacheError) config.onError(error);
    },
  };
}

/**
 * `announce` and `announceMany` of a strategy without L1 or version pointers (`none`, `delete`,
 * `ttl-only`): entries are checked and counted, and nothing else happens, so that the lab can show
 * what such a strategy makes of writes committed elsewhere.
 */
export function countedAnnouncements(counters: Counters) {
  return {
    async announce(key: string, version: number): Promise<void> {
      checkAnnounced({ key, version });
      counters.announcements++;
    },
    async announceMany(entries: readonly { key: string; version: number }[]): Promise<void> {
      for (const entry of entries) checkAnnounced(entry);
      counters.announcements += entries.length;
    },
  };
}
