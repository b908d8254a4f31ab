import { checkEntry } from '../../codec.ts';
import { CacheError, errors } from '../../errors.ts';
import { checkKey } from '../../keys.ts';
import type { FillOutcome } from '../../redis/versioned-store.ts';
import type { Loaded } from '../../types.ts';
import { fillL1, fillToken, type VersionedState } from './state.ts';

/**
 * The write path, called after the database commit with the row it returned: the data entry is
 * written and the pointer moved forward together with the PUBLISH of `{key, version}` (one round
 * trip, retried up to `invalidateAttempts`), then the writer's own L1 takes the new version so
 * that its next read sees its own write.
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

  return async function invalidate(key: string, written: Loaded<V>): Promise<void> {
    checkKey(key);
    checkEntry(written, 'invalidate');
    counters.invalidations++;
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
    if (outcome === undefined) {
      counters.invalidationFailures++;
      config.onError(
        new CacheError(
          errors.invalidationFailed,
          `could not announce ${key} v${written.version}; other instances may serve the old value until their L1 TTL`,
        ),
      );
    }
  };
}
