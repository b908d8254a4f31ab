import type { CacheError } from './errors.ts';
import type { RedisLike } from './types.ts';

/** Options of `createCache`. */
export interface CacheOptions {
  /** A connected Redis client; the cache never connects or closes it. */
  redis: RedisLike;
  /**
   * Prefix of every Redis key, so that several caches can share one Redis.
   * @default 'cl'
   */
  namespace?: string;
  /**
   * Time to live of a cached value in Redis, in ms: the bound on staleness when an invalidation is lost.
   * @default 60_000
   */
  ttlMs?: number;
  /**
   * Time to live of a cached "not found", in ms. Short, so that a missing key does not hide a create for long.
   * @default 5_000
   */
  negativeTtlMs?: number;
  /**
   * Longest wait for one Redis call, in ms; after it the read goes on without Redis.
   * @default 250
   */
  redisTimeoutMs?: number;
  /**
   * Attempts of an invalidation before it is counted as failed.
   * @default 3
   */
  invalidateAttempts?: number;
  /**
   * Told about every degraded operation (Redis error or timeout, corrupt entry, failed invalidation).
   * The cache never throws these at callers of reads.
   */
  onError?: (error: CacheError) => void;
}

/** Defaults of the optional {@link CacheOptions}. */
export const DEFAULT_CACHE_OPTIONS = {
  namespace: 'cl',
  ttlMs: 60_000,
  negativeTtlMs: 5_000,
  redisTimeoutMs: 250,
  invalidateAttempts: 3,
  onError: () => {},
} as const satisfies Omit<Required<CacheOptions>, 'redis'>;

/** {@link CacheOptions} with every default applied. */
export type ResolvedCacheOptions = Required<CacheOptions>;

/** Applies defaults and validates every option, naming the one that is wrong. */
export function resolveOptions(options: CacheOptions): ResolvedCacheOptions {
  if (!options || typeof options.redis?.get !== 'function') {
    throw new TypeError('`redis` must be a connected Redis client');
  }
  const resolved = { ...DEFAULT_CACHE_OPTIONS, ...stripUndefined(options) };
  for (const name of ['ttlMs', 'negativeTtlMs', 'redisTimeoutMs', 'invalidateAttempts'] as const) {
    const value = resolved[name];
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new TypeError(`\`${name}\` must be a positive integer`);
    }
  }
  if (typeof resolved.onError !== 'function') throw new TypeError('`onError` must be a function');
  return { ...resolved, redis: options.redis };
}

function stripUndefined<T extends object>(object: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(object).filter(([, v]) => v !== undefined),
  ) as Partial<T>;
}
