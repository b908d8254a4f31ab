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
  /** `EVALSHA sha numkeys keys… args…`. */
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  /** `EVAL script numkeys keys… args…`. */
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  /** `PUBLISH channel message`: how many subscribers received it. */
  publish(channel: string, message: string): Promise<number>;
  /** `SCAN cursor MATCH pattern COUNT n` (`clear` only, on one Redis). */
  scan?(
    cursor: string,
    options: { MATCH: string; COUNT: number },
  ): Promise<{ cursor: string; keys: string[] }>;
  /** `UNLINK key…`: how many keys were removed (`clear` only). */
  unlink?(keys: string[]): Promise<number>;
}

/** The commands `clear` sends to each master of a Redis Cluster. */
export interface ScanLike {
  /** `SCAN cursor MATCH pattern COUNT n`. */
  scan(
    cursor: string,
    options: { MATCH: string; COUNT: number },
  ): Promise<{ cursor: string; keys: string[] }>;
  /** `UNLINK key`. */
  unlink(key: string): Promise<number>;
}

/**
 * What a single Redis's command client may also offer (node-redis's does): with it, the versioned
 * cache notices that Redis restarted from an older snapshot (its `run_id` changed) and deletes what
 * the snapshot brought back before reading Redis again. Without it, or when Redis refuses these
 * commands (an ACL without `+info +scan +unlink`), a restored snapshot can be served until its TTLs.
 */
export interface RestartAwareRedisLike extends RedisLike {
  /** `INFO section`: the text of that section (`run_id:…` in `server`). */
  info(section: string): Promise<string>;
  scan: NonNullable<RedisLike['scan']>;
  unlink: NonNullable<RedisLike['unlink']>;
}

/**
 * With `pubsub: 'sharded'` (Redis Cluster): the command client also publishes with `SPUBLISH`.
 * node-redis's cluster client (`createCluster`) satisfies it (a type test keeps it that way).
 */
export interface ShardedRedisLike extends RedisLike {
  /** `SPUBLISH shardchannel message`, sent to the master that owns the channel's slot. */
  sPublish(channel: string, message: string): Promise<number>;
  /** The cluster's masters (`clear` scans each). */
  readonly masters?: readonly unknown[];
  /** The connection to one of {@link masters} (`clear` only). */
  nodeClient?(master: never): Promise<ScanLike>;
}

/**
 * Connection events of a subscriber client that the invalidation bus watches; the `node-*` ones
 * are a cluster client's, about one of its node connections.
 */
export type SubscriberEvent =
  | 'ready'
  | 'error'
  | 'reconnecting'
  | 'end'
  | 'node-error'
  | 'node-reconnecting'
  | 'node-disconnect'
  | 'node-ready';

/**
 * The slice of a dedicated subscriber connection that the invalidation bus calls (node-redis:
 * `client.duplicate()`, connected). The bus notices a silently dead subscription by its heartbeat
 * and withholds L1, but only the owner of the client can replace the connection: PING it with a
 * deadline and destroy and reconnect it when unanswered (the app's `watchConnection` does), or at
 * least give it `pingInterval` and `socketTimeout`.
 */
export interface SubscriberLike {
  /** `SUBSCRIBE channel`, delivering each message to `listener`. */
  subscribe(
    channel: string,
    listener: (message: string, channel: string) => unknown,
  ): Promise<void>;
  /** `UNSUBSCRIBE channel` for `listener`. */
  unsubscribe(
    channel: string,
    listener: (message: string, channel: string) => unknown,
  ): Promise<void>;
  /** Adds a listener for a connection event. */
  on(event: SubscriberEvent, listener: (...args: unknown[]) => void): unknown;
  /** Removes a listener added with `on`. */
  off(event: SubscriberEvent, listener: (...args: unknown[]) => void): unknown;
  /** True while the connection is up and usable. */
  readonly isReady: boolean;
}

/**
 * With `pubsub: 'sharded'` (Redis Cluster): the subscriber, a cluster client of its own
 * (node-redis: `cluster.duplicate()`, connected), which keeps one sharded subscriber connection
 * per master, resubscribes after a reconnect and follows a channel whose slot moves.
 */
export interface ShardedSubscriberLike {
  /** `SSUBSCRIBE shardchannel` on the master that owns it, delivering each message to `listener`. */
  sSubscribe(
    channel: string,
    listener: (message: string, channel: string) => unknown,
  ): Promise<void>;
  /** `SUNSUBSCRIBE shardchannel` for `listener`. */
  sUnsubscribe(
    channel: string,
    listener: (message: string, channel: string) => unknown,
  ): Promise<void>;
  /** Adds a listener for a connection event. */
  on(event: SubscriberEvent, listener: (...args: unknown[]) => void): unknown;
  /** Removes a listener added with `on`. */
  off(event: SubscriberEvent, listener: (...args: unknown[]) => void): unknown;
}

/**
 * What a loader returns and the cache stores: a value (or `null` for "not found") with the version
 * the source of truth gave it. Versions of a key only grow; `0` means "never existed".
 */
export interface Loaded<V> {
  value: V | null;
  version: number;
}

/**
 * A version committed to the source of truth by someone else (another service, psql, an instance
 * that died before announcing it), known without its value: e.g. a row relayed from an outbox.
 */
export interface Announced {
  key: string;
  /** A positive safe integer: the version the source of truth gave the write. */
  version: number;
}

/** Loads the authoritative entry for a key on a cache miss. */
export type Loader<V> = (key: string) => Promise<Loaded<V>>;

/**
 * Loads the authoritative entries of many keys in one call (one query, `WHERE id = ANY($1)`):
 * given the keys that missed every tier, each once, it returns their entries in the same order,
 * one per key (`{ value: null, version: 0 }` for a key that never existed).
 */
export type BatchLoader<V> = (keys: readonly string[]) => Promise<readonly Loaded<V>[]>;

/** Which tier answered a read. */
export const tiers = { l1: 'L1', l2: 'L2', miss: 'MISS', stale: 'STALE' } as const;

/**
 * `L1` (in-process), `L2` (Redis), `MISS` (the loader ran) or `STALE` (the loader failed and an
 * expired L1 copy was served, `staleIfErrorMs`).
 */
export type Tier = (typeof tiers)[keyof typeof tiers];

/** The answer to a read: the entry and the tier that served it. */
export interface CacheRead<V> extends Loaded<V> {
  tier: Tier;
  /** `STALE` answers only: how long ago this instance stored the copy, in ms. */
  ageMs?: number;
}

/**
 * How fresh a read must be.
 *
 * `eventual`: an L1 hit is served locally; it may be stale for the propagation delay of an
 * invalidation. `strict`: an L1 hit is served only after one round trip to Redis confirms that its
 * version is the current one.
 */
export type Consistency = 'eventual' | 'strict';

/** Per-read options. */
export interface ReadOptions {
  /** @default 'eventual' */
  consistency?: Consistency;
  /**
   * Never answer with a version below this one (a read-your-writes token: the version a client
   * wrote). Tiers holding older versions are skipped, down to the loader if need be. If the
   * loader's answer is still older (at most two loads: one more only when the read joined a load
   * that another read had started), the read fails with `E_VERSION_UNAVAILABLE`
   * (`VersionUnavailableError`). A non-negative integer; anything else is a `TypeError`.
   * @default 0
   */
  minVersion?: number;
  /**
   * Time to live in Redis of what this read loads, in ms, instead of the cache's `ttlMs` (a
   * "not found" keeps `negativeTtlMs`); the L1 copy lives no longer than it either. An integer
   * from 1 to 2 147 483 647; anything else is a `TypeError`.
   * @default the cache's `ttlMs`
   */
  ttlMs?: number;
}

/** Per-write options of `set`. */
export interface WriteOptions {
  /**
   * Time to live in Redis of this value, in ms, instead of the cache's `ttlMs` (as for reads).
   * @default the cache's `ttlMs`
   */
  ttlMs?: number;
}

/** Options of `delete`. */
export interface DeleteOptions {
  /**
   * The version the source of truth gave the deletion (its tombstone's version), a positive
   * integer: the key is cached as "not found" at this version.
   */
  version: number;
}

/** The invalidation strategies, selectable for study and comparison. */
export const strategies = {
  ttlOnly: 'ttl-only',
  delete: 'delete',
  versioned: 'versioned',
  none: 'none',
} as const;

/**
 * `versioned` (default): L1 + versioned Redis entries + Pub/Sub invalidation. `delete`: classic
 * cache-aside, Redis only, DEL on write (has the stale-set race). `ttl-only`: Redis only, writes
 * invalidate nothing; entries are stale until their TTL ends. `none`: no caching at all (every read
 * calls the loader), the baseline for measuring what a cache saves.
 */
export type Strategy = (typeof strategies)[keyof typeof strategies];

/** Why an L1 fill was refused. */
export interface RejectedFills {
  /** A newer version was announced (or written here) while the value was loading. */
  superseded: number;
  /** Trust in the bus was lost or regained, or the namespace cleared, while the value was loading. */
  epoch: number;
  /** High-water marks were forgotten (bound reached) while loading, maybe this key's. */
  forgotten: number;
}

/** Messages on the channel that were dropped, by reason. */
export interface RejectedMessages {
  /** Not a message of this cache: not JSON, wrong shape or types, too long, a bad version. */
  malformed: number;
  /** With a signing secret: a message that carries no signature. */
  unsigned: number;
  /** With a signing secret: a signature that none of the secrets produced. */
  forged: number;
}

/**
 * The delay between publishing an invalidation and receiving it, in ms: how many were received,
 * the last one, and the nearest-rank p50, p99 and max of the last 1024 (the p-th percentile is the
 * smallest delay with at least p % of them at or below it); `null` before the first.
 */
export interface PropagationStats {
  count: number;
  last: number | null;
  p50: number | null;
  p99: number | null;
  max: number | null;
}

/**
 * Events reported as they happen, for observers that need every occurrence (a latency histogram)
 * rather than the running totals of `stats()`. Listeners run synchronously on the hot path: keep
 * them cheap. A listener that throws is ignored.
 */
export interface CacheEvents {
  /** An invalidation from another instance arrived `delayMs` after it was published. */
  propagated?(delayMs: number): void;
}

/** Counters since the cache was created. Hit ratio = (l1Hits + l2Hits) / reads. */
export interface CacheStats {
  strategy: Strategy;
  /**
   * Reads: calls to `getOrLoad` and `get`, and each distinct key of a `getMany` (a key asked twice
   * in one call is read once).
   */
  reads: number;
  /** Reads answered by the in-process tier. */
  l1Hits: number;
  /** Reads answered by Redis. */
  l2Hits: number;
  /**
   * Reads that needed the loader (shared loads counted once per read), and `get`s that found
   * nothing.
   */
  misses: number;
  /** Reads answered with a cached "not found". Included in `l1Hits`/`l2Hits`. */
  negativeHits: number;
  /**
   * Loader calls actually made (single-flight joins several misses into one; a `getMany` batch is
   * one call).
   */
  loads: number;
  /** Misses refused with `E_OVERLOADED` because `maxConcurrentLoads` loads were in flight. */
  loadsShed: number;
  /**
   * Misses answered by another instance's load: this instance found the key's load lease taken and
   * waited for the holder's fill in Redis instead of calling the loader (`loadLeaseMs`).
   */
  leaseWaits: number;
  /** Waits for another instance's fill that ended without one (lease expired or released): loaded here. */
  leaseTimeouts: number;
  /**
   * Reads answered with an expired L1 copy because the loader failed (`staleIfErrorMs`); counted
   * in `misses` too, not in the hits.
   */
  staleServed: number;
  /** Background reloads started by an L1 hit near its entry's expiry (`earlyRefresh`). */
  earlyRefreshes: number;
  /** Of those, reloads that failed (the entry then simply expires). */
  earlyRefreshFailures: number;
  /** Loader calls in flight now (at most `maxConcurrentLoads`). */
  loadsInFlight: number;
  /** Strict reads whose L1 version Redis confirmed / did not confirm. */
  strictConfirmed: number;
  strictRefuted: number;
  /** Redis entries older than a version already announced, skipped. */
  l2Stale: number;
  /** L1 fills refused, by reason. */
  fillsRejected: RejectedFills;
  /** Redis calls that failed or timed out; the read went on without Redis. */
  redisErrors: number;
  /**
   * Redis calls not made because a call had timed out and Redis had not answered since (each
   * failed at once instead of waiting for `redisTimeoutMs`); not counted in `redisErrors`.
   */
  redisSkipped: number;
  /** Reads that could not ask Redis (error, timeout or skipped) and went to the loader instead. */
  degradedReads: number;
  /**
   * Entries (or, in `versioned`, version pointers) Redis held that this cache cannot have written,
   * in every strategy; each is treated as a miss and overwritten, and reported as `E_CORRUPT_ENTRY`.
   */
  corruptEntries: number;
  /** Writes handled (`set` calls). */
  writes: number;
  /** Versions announced without a value (`announce`/`announceMany` entries), whatever came of them. */
  announcements: number;
  /** Invalidation (and clear) messages published / received from other instances. */
  invalidationsSent: number;
  invalidationsReceived: number;
  /** Messages on the channel that were dropped, by reason; none of them changed anything. */
  messagesRejected: RejectedMessages;
  /** Failed attempts to publish (each retried, up to the bound). */
  publishFailures: number;
  /** Announcements that failed inline and went through on a background retry. */
  invalidationsRetried: number;
  /** Announcements given up (too many pending): other tiers may be stale up to their TTL. */
  invalidationFailures: number;
  /** Announcements waiting for Redis to come back. */
  pendingInvalidations: number;
  /** Times trust in the bus was lost, and regained (= subscriber recoveries). */
  trustLost: number;
  subscriberReconnects: number;
  /**
   * Stalls of the event loop (a liveness tick late by more than half a heartbeat interval, and
   * at least 200 ms: GC, SIGSTOP, a long synchronous task); each withheld L1 until an own
   * heartbeat sent after it came back, without flushing it.
   */
  stalls: number;
  /**
   * L1 flushes: each recovery flushes L1 and the high-water marks; each clear of the namespace
   * (made here, twice, or heard from another instance) flushes L1.
   */
  l1Flushes: number;
  /** Whether L1 is served now. */
  trusted: boolean;
  l1Size: number;
  l1Evictions: number;
  highWaterMarks: number;
  propagationMs: PropagationStats;
}

/** A two-tier cache-aside cache of values of type `V`. */
export interface Cache<V> {
  /**
   * Returns the entry for `key` from the fastest tier that may answer, or calls `loader` once (per
   * key, per process, however many reads are waiting) and caches its answer. Rejects with a
   * `CacheError`: `E_INVALID_KEY`, `E_INVALID_ENTRY` (the loader's answer is not
   * `{ value, version }`), `E_VERSION_UNAVAILABLE` (below `minVersion`), `E_OVERLOADED`; or with
   * the loader's own error. Never because of Redis.
   */
  getOrLoad(key: string, loader: Loader<V>, options?: ReadOptions): Promise<CacheRead<V>>;
  /**
   * The answer `getOrLoad` would give from this process's memory alone (an L1 hit of a read that
   * is not `strict`), synchronously and counted as that read; `undefined`, nothing counted, when
   * the read must go further: call `getOrLoad` then. Lets a hot path skip a promise per hit. Only
   * `versioned` has an L1; the other strategies always answer `undefined`. Throws what
   * `getOrLoad` rejects with for an invalid key or `minVersion`.
   */
  getLocal(key: string, loader: Loader<V>, options?: ReadOptions): CacheRead<V> | undefined;
  /**
   * The entry for `key` from L1 or Redis, without a loader: `undefined` when neither holds one
   * that may answer (counted as a miss). A cached "not found" is an answer (`value: null`). The
   * same rules as `getOrLoad` otherwise: `minVersion`, `strict`, and a Redis answer fills L1 only
   * if no newer version was announced meanwhile. Redis failing makes it `undefined`, never an
   * error. `ttlMs` has no effect (nothing is loaded). Only `versioned` has an L1; the other
   * strategies read Redis (`none`: always `undefined`).
   */
  get(key: string, options?: ReadOptions): Promise<CacheRead<V> | undefined>;
  /**
   * {@link Cache.getOrLoad} for many keys, answered in the order asked (a key asked twice is
   * answered twice). L1 first; then every key that L1 did not answer is read from Redis in one
   * round trip (the reads are pipelined: one per Redis Cluster node that owns some of the keys);
   * then the keys that missed everywhere go to ONE call of `loader`, with each such key once,
   * except keys already loading in this process, which join that load (single-flight). Loaded
   * entries fill Redis (pipelined) and L1 by the same rules as `getOrLoad`'s. The batch does not
   * take load leases (`loadLeaseMs`): concurrent batches on several instances may each load a key.
   * A batch starts only when fewer than `maxConcurrentLoads` loads are in flight, whatever its
   * size (else `E_OVERLOADED`). A failed batch fails the call (no `staleIfErrorMs` copies). Rejects as `getOrLoad` does, for the first key that fails, and with
   * `E_INVALID_ENTRY` when the loader's answer is not one entry per key.
   */
  getMany(
    keys: readonly string[],
    loader: BatchLoader<V>,
    options?: ReadOptions,
  ): Promise<CacheRead<V>[]>;
  /**
   * A write-through set: call after the source of truth was written, with what was written (the
   * value, `null` for a deletion, and the version the source of truth gave it). From then on this
   * instance answers with it, and (depending on the strategy) the other instances do too. In
   * `versioned`, the entry is stored in L1 and as a versioned Redis entry, and announced to every
   * instance; an older version than one already current is ignored. `delete` deletes the Redis
   * entry, `ttl-only` and `none` only count the write. Rejects with `E_INVALID_KEY` or
   * `E_INVALID_ENTRY` (not `{ value, version }`) before touching Redis; never because of Redis
   * (an announcement Redis did not take is retried in the background).
   */
  set(key: string, written: Loaded<V>, options?: WriteOptions): Promise<void>;
  /**
   * A write-through delete: call after the key was deleted in the source of truth, with the
   * version it gave the deletion (a tombstone's version). The same as `set(key, { value: null,
   * version })`: the key is cached as "not found" at that version (for `negativeTtlMs`) and the
   * version is announced to every instance like a set's. Rejects with `E_INVALID_KEY`, or
   * `E_INVALID_ENTRY` when `version` is not a positive integer; never because of Redis.
   */
  delete(key: string, options: DeleteOptions): Promise<void>;
  /**
   * Removes every entry of the namespace: from Redis (`SCAN` and `UNLINK` of the namespace's
   * keys, on every master of a Redis Cluster) and from the L1 of every instance (a clear message
   * on the channel, sent before and after the deletion). A load that started before an instance
   * heard of the clear fills neither its L1 nor Redis. For deploys and schema changes; versions
   * stay what the source of truth says. The `redis` client needs `scan` and `unlink` (a cluster
   * client: `masters` and `nodeClient`; node-redis has them), else a `TypeError`. Rejects with the
   * Redis error (bounded by `redisTimeoutMs` per call): the caller calls it again. `delete` and `ttl-only` remove their
   * Redis entries; `none` has nothing to remove.
   */
  clear(): Promise<void>;
  /**
   * Announces a version committed to the source of truth without going through `set` (a
   * write from another service, or relayed from an outbox), without its value. In `versioned`,
   * the pointer moves forward (never back), the superseded Redis entry is dropped, every instance
   * is told, and the next read loads the row; announcing a version twice, or out of order, is
   * harmless. The other strategies only validate and count it (their lesson is what they miss).
   * Rejects with `E_INVALID_KEY`/`E_INVALID_ENTRY` (version not a positive safe integer) before
   * touching Redis, or with the Redis error (bounded by `redisTimeoutMs`): the caller retries.
   */
  announce(key: string, version: number): Promise<void>;
  /**
   * {@link Cache.announce} for many keys, sent together: one Lua script for the whole batch (one
   * round trip, one `redisTimeoutMs`), or with `pubsub: 'sharded'` (and on a cluster that refuses
   * keys of different slots in one script) one script per key, pipelined. Every entry is
   * validated before any is sent; rejects with the Redis error (with one script per key, the
   * first once all settled; the others were announced: announcing them again is harmless).
   */
  announceMany(entries: readonly Announced[]): Promise<void>;
  /** A snapshot of the counters. */
  stats(): CacheStats;
  /** Stops timers and unsubscribes; the Redis clients stay open (they are the caller's). */
  close(): Promise<void>;
}
