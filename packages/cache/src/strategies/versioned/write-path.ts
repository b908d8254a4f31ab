import { checkEntry } from '../../codec.ts';
import { CacheError, cacheErrorCodes } from '../../errors.ts';
import { checkKey } from '../../keys.ts';
import type { FillOutcome } from '../../redis/versioned-store.ts';
import type { Loaded } from '../../types.ts';
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

  async function moveAndPublish(key: string, written: Loaded<V>): Promise<FillOutcome | undefined> {
    for (let attempt = 1; attempt <= config.invalidateAttempts; attempt++) {
      const announcement = state.announcement(key, written.version, 'always');
      try {
        const { outcome } = await store.fill(key, written, state.ttlOf(written), announcement);
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
  const pending = new Map<string, Loaded<V>>();
  let retryTimer: NodeJS.Timeout | undefined;
  let closed = false;

  function keepPending(key: string, written: Loaded<V>): void {
    const queued = pending.get(key);
    if (queued && queued.version >= written.version) return;
    if (!queued && pending.size >= config.highWaterMarkMaxEntries) {
      counters.invalidationFailures++;
      config.onError(
        new CacheError(
          cacheErrorCodes.invalidationFailed,
          `too many announcements pending; ${key} v${written.version} may be stale until its TTL`,
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
    for (const [key, written] of [...pending]) {
      if (closed) return;
      const announcement = state.announcement(key, written.version, 'always');
      try {
        await store.fill(key, written, state.ttlOf(written), announcement);
      } catch {
        counters.publishFailures++;
        break; // Redis is still unreachable: try again later.
      }
      counters.invalidationsSent++;
      counters.invalidationsRetried++;
      if (pending.get(key) === written) pending.delete(key);
    }
    scheduleRetry();
  }

  // #region tutorial:write-path
  async function set(key: string, written: Loaded<V>): Promise<void> {
    checkKey(key);
    checkEntry(written, 'set');
    counters.writes++;
    const token = fillToken(state);
    // The mark first: a read of an older version on this instance can no longer fill L1. Raised
    // again after Redis, in case a resubscribe flushed the marks meanwhile.
    marks.raise(key, written.version);
    const outcome = await moveAndPublish(key, written);
    marks.raise(key, written.version);
    if (outcome === 'stale') {
      // A newer version is already current: it, not this one, belongs in L1.
      counters.fillsRejected.superseded++;
    } else {
      fillL1(state, key, written, token);
    }
    if (outcome === undefined) keepPending(key, written);
  }
  // #endregion tutorial:write-path

  return {
    set,
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
