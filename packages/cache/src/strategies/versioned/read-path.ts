import { setTimeout as delay } from 'node:timers/promises';
import { atLeast, checkEntry, minVersionOf, ttlMsOf } from '../../codec.ts';
import { CacheError, cacheErrorCodes } from '../../errors.ts';
import { checkKey } from '../../keys.ts';
import type { L1Entry } from '../../local/l1-store.ts';
import type { VersionedRead } from '../../redis/versioned-store.ts';
import { createSingleFlight } from '../../single-flight.ts';
import type { CacheRead, Loaded, Loader, ReadOptions } from '../../types.ts';
import { type FillToken, fillL1, fillToken, storeLoaded, type VersionedState } from './state.ts';

/**
 * How often an instance waiting for another's load polls Redis for its fill, in ms: a fiftieth of
 * the lease, from 1 to 10 ms (`loadLeaseMs` 500: every 10 ms).
 */
export function leasePollMs(loadLeaseMs: number): number {
  return Math.min(10, Math.max(1, Math.floor(loadLeaseMs / 50)));
}

/**
 * The read path: L1 (when the bus is trusted) → one round trip to Redis for pointer and data →
 * one database load per key per instance, which fills Redis (the pointer only moves forward)
 * and, if still valid, L1. No tier may answer below the read's floor: the highest version
 * announced for the key, or the caller's `minVersion` if higher.
 */
export function createReadPath<V>(state: VersionedState<V>) {
  const { context, l1, marks, bus, store } = state;
  const { counters, config } = context;
  const flights = createSingleFlight<CacheRead<V>>({
    maxInFlight: config.maxConcurrentLoads,
    onShed: () => counters.loadsShed++,
  });

  // #region tutorial:versioned-load
  async function load(key: string, loader: Loader<V>, ttlMs?: number): Promise<Loaded<V>> {
    // Taken before the database read: the fill is void if trust or the marks changed after it.
    const token = fillToken(state);
    counters.loads++;
    const entry = checkEntry(await loader(key), 'the loader');
    return storeLoaded(state, key, entry, token, ttlMs);
  }
  // #endregion tutorial:versioned-load

  let leases = 0;

  // #region tutorial:load-lease
  /**
   * One load for the whole cluster: the instance that takes the key's lease loads; the others wait
   * for its fill in Redis (bounded by the lease), then load themselves. Redis failing to take the
   * lease means loading; a poll failing while waiting means polling again until the lease is over.
   */
  async function loadForCluster(key: string, loader: Loader<V>, floor: number, ttlMs?: number) {
    if (config.loadLeaseMs === 0) {
      return { ...(await load(key, loader, ttlMs)), tier: 'MISS' } as const;
    }
    const holder = `${state.origin}:${leases++}`;
    const taken = await store.takeLease(key, holder, config.loadLeaseMs).catch((error) => {
      context.redisFailed(error);
      return undefined;
    });
    if (taken === false) {
      const filled = await waitForFill(key, floor);
      if (filled) return filled;
    }
    try {
      return { ...(await load(key, loader, ttlMs)), tier: 'MISS' } as const;
    } finally {
      if (taken) store.releaseLease(key, holder).catch(context.redisFailed);
    }
  }

  /** The lease holder's fill, once Redis has it at `floor` or above; `undefined` if none comes. */
  async function waitForFill(key: string, floor: number): Promise<CacheRead<V> | undefined> {
    // Taken before waiting: an L1 fill is void if trust or the marks changed meanwhile.
    const token = fillToken(state);
    const deadline = performance.now() + config.loadLeaseMs;
    while (performance.now() < deadline) {
      await delay(leasePollMs(config.loadLeaseMs));
      // The lease before the entry: the holder fills, then releases, so a lease seen released
      // means its fill (if any) is already in Redis for the read that follows. (The other order
      // would miss a fill that lands between the two calls, and load for nothing.)
      // A failed call is this instance's own trouble (a timeout, its gate skipping Redis), not a
      // sign the holder failed: keep waiting, bounded by the lease, and poll again.
      const held = await store.leaseHeld(key).catch(() => true);
      const found = await readRedis(key);
      if (found === undefined) continue;
      const entry = found.entry;
      // The same floor as any Redis answer, raised by announcements heard while waiting.
      if (entry && entry.version >= Math.max(floor, marks.get(key))) {
        fillL1(state, key, entry, token);
        counters.leaseWaits++;
        return { ...entry, tier: 'L2' };
      }
      // Released (its fill was refused or older than we need) or expired (its holder died).
      if (!held) break;
    }
    counters.leaseTimeouts++;
    return undefined;
  }
  // #endregion tutorial:load-lease

  /** Pointer and data in one round trip; `undefined` when Redis failed (counted). */
  async function readRedis(key: string): Promise<VersionedRead<V> | undefined> {
    try {
      const found = await store.read<V>(key);
      if (found.corrupt) {
        // A miss then: the load's fill overwrites what this cache cannot have written.
        counters.corruptEntries++;
        config.onError(
          new CacheError(cacheErrorCodes.corruptEntry, `undecodable entry for ${key}`),
        );
      }
      return found;
    } catch (error) {
      // The read goes on to the loader: degraded (slower, still correct), never failed.
      counters.degradedReads++;
      context.redisFailed(error);
      return undefined;
    }
  }

  /** The entry Redis holds, if no lower than `floor`; fills L1 with it. */
  function fromRedis(
    key: string,
    found: VersionedRead<V> | undefined,
    floor: number,
    token: FillToken,
  ) {
    const entry = found?.entry;
    if (!entry) return undefined;
    if (entry.version < floor) {
      counters.l2Stale++;
      return undefined;
    }
    fillL1(state, key, entry, token);
    counters.l2Hits++;
    if (entry.value === null) counters.negativeHits++;
    return { ...entry, tier: 'L2' } satisfies CacheRead<V>;
  }

  /** Strict L1 hit: served only if Redis's pointer confirms it; else Redis's own answer, if any. */
  async function confirmed(key: string, version: number, floor: number) {
    const token = fillToken(state);
    const found = await readRedis(key);
    if (found?.pointer === version) {
      counters.strictConfirmed++;
      return true;
    }
    counters.strictRefuted++;
    return fromRedis(key, found, floor, token);
  }

  // #region tutorial:stale-if-error
  /**
   * After the loader failed: this instance's expired L1 copy, if `staleIfErrorMs` allows it and it
   * is no older than anything the read may not go below (announced versions, `minVersion`).
   * Never for strict reads, never for the cache's own errors, never while the bus is untrusted.
   */
  function staleCopy(key: string, error: unknown, options: ReadOptions, minVersion: number) {
    if (config.staleIfErrorMs === 0 || error instanceof CacheError) return undefined;
    if (options.consistency === 'strict') return undefined;
    const now = performance.now();
    if (!bus.trustedAt(now)) return undefined;
    const copy = l1.getStale(key, now);
    // Marks are read again: announcements may have arrived while the load was failing.
    if (!copy || copy.version < Math.max(minVersion, marks.get(key))) return undefined;
    counters.staleServed++;
    return { ...copy.read, tier: 'STALE', ageMs: now - copy.storedAt } satisfies CacheRead<V>;
  }
  // #endregion tutorial:stale-if-error

  // An L1 hit with less than this left (ms) starts a background reload; 0: never.
  const refreshWindowMs = config.earlyRefresh * config.l1TtlMs;

  /** One background reload of `key` (none if one is in flight here already). */
  function refreshEarly(key: string, loader: Loader<V>): void {
    if (flights.has(key)) return;
    counters.earlyRefreshes++;
    flights
      .run(key, () => loadForCluster(key, loader, marks.get(key)))
      .catch(() => {
        counters.earlyRefreshFailures++;
      });
  }

  /** An L1 hit served: the early refresh it may start, its counters, the frozen answer. */
  function servedFromL1(
    key: string,
    loader: Loader<V> | undefined,
    local: L1Entry<V>,
    now: number,
  ) {
    if (loader && local.expiresAt - now < refreshWindowMs) refreshEarly(key, loader);
    counters.l1Hits++;
    if (local.read.value === null) counters.negativeHits++;
    return local.read;
  }

  /**
   * The L1 hit of a non-strict read, synchronously, counted as the read; `undefined` (nothing
   * counted) when the read must go further: then `getOrLoad` serves and counts it.
   */
  function getLocal(
    key: string,
    loader: Loader<V>,
    options: ReadOptions = {},
  ): CacheRead<V> | undefined {
    checkKey(key);
    if (options.consistency === 'strict') return undefined;
    const floor = Math.max(minVersionOf(options), marks.get(key));
    const now = performance.now();
    const local = bus.trustedAt(now) ? l1.get(key, now) : undefined;
    if (local === undefined || local.version < floor) return undefined;
    counters.reads++;
    return servedFromL1(key, loader, local, now);
  }

  /**
   * The answer of L1 or Redis that a read may give, counted as a hit; `undefined` (nothing
   * counted) when neither has one at the read's floor.
   */
  async function cached(key: string, floor: number, options: ReadOptions, loader?: Loader<V>) {
    // One read of the monotonic clock serves both the bus's liveness check and the entry's expiry.
    const now = performance.now();
    const local = bus.trustedAt(now) ? l1.get(key, now) : undefined;
    if (local !== undefined && local.version >= floor) {
      const strict = options.consistency === 'strict';
      const answer = strict ? await confirmed(key, local.version, floor) : true;
      if (answer === true) return servedFromL1(key, loader, local, now);
      return answer;
    }
    const token = fillToken(state);
    return fromRedis(key, await readRedis(key), floor, token);
  }

  // #region tutorial:read-path
  /**
   * `getOrLoad`. A call without options that L1 answers takes the shortest path: no validation to
   * redo (only valid keys are ever stored), no promise to make (the entry keeps its settled
   * answer); anything else goes through {@link read}.
   */
  function getOrLoad(key: string, loader: Loader<V>, options?: ReadOptions): Promise<CacheRead<V>> {
    if (options === undefined) {
      const now = performance.now();
      const local = l1.get(key, now);
      if (local !== undefined && local.version >= marks.get(key) && bus.trustedAt(now)) {
        counters.reads++;
        const answer = servedFromL1(key, loader, local, now);
        local.settled ??= Promise.resolve(answer);
        return local.settled;
      }
    }
    return read(key, loader, options);
  }

  async function read(
    key: string,
    loader: Loader<V>,
    options: ReadOptions = {},
  ): Promise<CacheRead<V>> {
    checkKey(key);
    const minVersion = minVersionOf(options);
    const ttlMs = ttlMsOf(options);
    counters.reads++;
    const floor = Math.max(minVersion, marks.get(key));
    // The L1 hit inline, not through `cached`: the hot path awaits nothing but this call.
    const now = performance.now();
    const local = bus.trustedAt(now) ? l1.get(key, now) : undefined;
    if (local !== undefined && local.version >= floor) {
      const strict = options.consistency === 'strict';
      const answer = strict ? await confirmed(key, local.version, floor) : true;
      if (answer === true) return servedFromL1(key, loader, local, now);
      if (answer) return answer;
    } else {
      const token = fillToken(state);
      const remote = fromRedis(key, await readRedis(key), floor, token);
      if (remote) return remote;
    }
    counters.misses++;
    const joined = flights.has(key);
    const run = () => loadForCluster(key, loader, floor, ttlMs);
    let loaded: CacheRead<V>;
    try {
      loaded = await flights.run(key, run);
      // A shared load joined may have read the database before the version this read must see; a
      // load this read started itself read it after the read began, so reloading would not help.
      if (joined && loaded.version < floor) loaded = await flights.run(key, run);
    } catch (error) {
      const stale = staleCopy(key, error, options, minVersion);
      if (stale) return stale;
      throw error;
    }
    // Below an announced mark the database's answer is still the truth and is served; below the
    // caller's token it is not: never answer below it.
    return { ...atLeast(key, loaded, minVersion), tier: loaded.tier };
  }
  // #endregion tutorial:read-path

  /** L1, then Redis, no loader: `undefined` (a miss) when neither may answer. */
  async function get(key: string, options: ReadOptions = {}): Promise<CacheRead<V> | undefined> {
    checkKey(key);
    const minVersion = minVersionOf(options);
    ttlMsOf(options);
    counters.reads++;
    const hit = await cached(key, Math.max(minVersion, marks.get(key)), options);
    if (!hit) counters.misses++;
    return hit;
  }

  return {
    getOrLoad,
    getLocal,
    get,
    cached,
    /** Shared with `getMany`, so that a key loads once whichever call asked for it. */
    flights,
    loadsInFlight: () => flights.size,
  };
}
