import { checkEntry, deletedVersion, roundTrip, ttlMsOf } from '../../codec.ts';
import { CacheError, cacheErrorCodes } from '../../errors.ts';
import { checkKey } from '../../keys.ts';
import type { FillOutcome } from '../../redis/versioned-store.ts';
import type { DeleteOptions, Loaded, WriteOptions } from '../../types.ts';
import { fillL1, fillToken, type VersionedState } from './state.ts';

/**
 * The write path, called after the database commit with the row it returned: the data entry is
 * written and the pointer moved forward together with the PUBLISH of `{key, version}` (one round
 * trip, retried up to `invalidateAttempts`, then in the background until Redis takes it), then
 * the writer's own L1 takes the new version so that its next read sees its own write.
 */
export function createWritePath<V>(state: VersionedState<V>) {
  const { context, marks, store } = state;
  const { counters, config } = context;

  /** A write as Redis takes it: the entry, its payload, and its TTL if the call gave one. */
  interface Write {
    entry: Loaded<V>;
    payload: string;
    ttlMs: number | undefined;
  }

  function fill(key: string, { entry, payload, ttlMs }: Write) {
    const announcement = state.announcement(key, entry.version, 'always');
    const encoded = { version: entry.version, payload };
    return store.fill(key, encoded, state.ttlOf(entry, ttlMs), announcement);
  }

  async function moveAndPublish(key: string, written: Write): Promise<FillOutcome | undefined> {
    for (let attempt = 1; attempt <= config.invalidateAttempts; attempt++) {
      try {
        const { outcome } = await fill(key, written);
        counters.invalidationsSent++;
        return outcome;
      } catch (error) {
        counters.publishFailures++;
        context.redisFailed(error);
      }
    }
    return undefined;
  }

  // Announcements that failed every attempt, retried in the background until Redis takes them:
  // until then a slow reader could set the pointer to an older version and nobody would move it
  // forward. Bounded; the newest write per key wins.
  const pending = new Map<string, Write>();
  let retryTimer: NodeJS.Timeout | undefined;
  let retrying = false;
  let closed = false;
  // Redis answering again (a pause or freeze over) sends what waited at once, not at the next tick.
  context.onRedisBack(() => {
    if (closed || retrying || pending.size === 0) return;
    clearTimeout(retryTimer);
    void retryPending();
  });

  function keepPending(key: string, written: Write): void {
    const queued = pending.get(key);
    if (queued && queued.entry.version >= written.entry.version) return;
    if (!queued && pending.size >= config.highWaterMarkMaxEntries) {
      counters.invalidationFailures++;
      config.onError(
        new CacheError(
          cacheErrorCodes.invalidationFailed,
          `too many announcements pending; ${key} v${written.entry.version} may be stale until its TTL`,
        ),
      );
      return;
    }
    pending.set(key, written);
    scheduleRetry();
  }

  function scheduleRetry(): void {
    // After close() nothing re-arms, not even a retry that was already in flight.
    if (closed || pending.size === 0) return;
    retryTimer ??= setTimeout(retryPending, config.heartbeatIntervalMs).unref();
  }

  async function retryPending(): Promise<void> {
    retryTimer = undefined;
    retrying = true;
    try {
      await retryEach();
    } finally {
      retrying = false;
    }
    scheduleRetry();
  }

  async function retryEach(): Promise<void> {
    for (const [key, written] of [...pending]) {
      if (closed) return;
      try {
        await fill(key, written);
      } catch (error) {
        counters.publishFailures++;
        // Counted and reported like any Redis failure (a skipped call only counted).
        context.redisFailed(error);
        break; // Redis is still unreachable: try again later.
      }
      counters.invalidationsSent++;
      counters.invalidationsRetried++;
      if (pending.get(key) === written) pending.delete(key);
    }
  }

  // #region tutorial:write-path
  async function set(key: string, given: Loaded<V>, options?: WriteOptions): Promise<void> {
    checkKey(key);
    const ttlMs = ttlMsOf(options);
    // What every tier will answer: the value as the serializer gives it back, frozen.
    const { entry: written, payload } = roundTrip(state.codec, checkEntry(given, 'set'), 'set');
    counters.writes++;
    const token = fillToken(state);
    // The mark first: a read of an older version on this instance can no longer fill L1. Raised
    // again after Redis, in case a resubscribe flushed the marks meanwhile.
    marks.raise(key, written.version);
    const write = { entry: written, payload, ttlMs };
    const outcome = await moveAndPublish(key, write);
    marks.raise(key, written.version);
    if (outcome === 'stale') {
      // A newer version is already current: it, not this one, belongs in L1.
      counters.fillsRejected.superseded++;
    } else {
      fillL1(state, key, written, token, ttlMs);
    }
    if (outcome === undefined) keepPending(key, write);
  }
  // #endregion tutorial:write-path

  /** A deletion is a write of "not found" at the tombstone's version (MUST-WRITE-3). */
  async function remove(key: string, options: DeleteOptions): Promise<void> {
    return set(key, { value: null, version: deletedVersion(options) });
  }

  return {
    set,
    delete: remove,
    /** Announcements waiting for Redis. */
    pending: () => pending.size,
    /** Stops retrying (what is still pending is left to the TTLs). */
    close() {
      closed = true;
      clearTimeout(retryTimer);
      retryTimer = undefined;
    },
  };
}
