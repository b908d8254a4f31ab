/**
 * The slice of a Redis client that the cache calls. node-redis v5+ satisfies it as is (a type test
 * keeps it that way); anything else with these methods works too.
 */
export interface RedisLike {
  /** `GET key`: the string stored, or `null`. */
  get(key: string): Promise<string | null>;
  /** `SET key value PX ms`. */
  set(
    key: string,
    value: string,
    options: { expiration: { type: 'PX'; value: number } },
  ): Promise<unknown>;
  /** `DEL key`: how many keys were removed. */
  del(key: string): Promise<number>;
}

/**
 * What a loader returns and the cache stores: a value (or `null` for "not found") with the version
 * the source of truth gave it. Versions of a key only grow; `0` means "never existed".
 */
export interface Loaded<V> {
  value: V | null;
  version: number;
}

/** Loads the authoritative entry for a key on a cache miss. */
export type Loader<V> = (key: string) => Promise<Loaded<V>>;

/** Which tier answered a read. */
export const tiers = { l1: 'L1', l2: 'L2', miss: 'MISS' } as const;

/** `L1` (in-process), `L2` (Redis) or `MISS` (the loader ran). */
export type Tier = (typeof tiers)[keyof typeof tiers];

/** The answer to a read: the entry and the tier that served it. */
export interface CacheRead<V> extends Loaded<V> {
  tier: Tier;
}

/** Counters since the cache was created. Hit ratio = (l1Hits + l2Hits) / reads. */
export interface CacheStats {
  /** Calls to `getOrLoad`. */
  reads: number;
  /** Reads answered by the in-process tier. */
  l1Hits: number;
  /** Reads answered by Redis. */
  l2Hits: number;
  /** Reads that needed the loader (shared loads counted once per read). */
  misses: number;
  /** Reads answered with a cached "not found". Included in `l1Hits`/`l2Hits`. */
  negativeHits: number;
  /** Loader calls actually made (single-flight joins several misses into one). */
  loads: number;
  /** Redis calls that failed or timed out; the read went on without Redis. */
  redisErrors: number;
  /** Entries Redis held that could not be decoded (treated as misses and overwritten). */
  corruptEntries: number;
  /** Invalidations performed after writes. */
  invalidations: number;
  /** Invalidations that failed after every retry: the entry may be stale until its TTL. */
  invalidationFailures: number;
}

/** A two-tier cache-aside cache of values of type `V`. */
export interface Cache<V> {
  /** Returns the cached entry for `key`, or calls `loader` once (per key, per process) and caches it. */
  getOrLoad(key: string, loader: Loader<V>): Promise<CacheRead<V>>;
  /** Called after the source of truth was written, with what was written; makes readers see it. */
  invalidate(key: string, written: Loaded<V>): Promise<void>;
  /** A snapshot of the counters. */
  stats(): CacheStats;
}
