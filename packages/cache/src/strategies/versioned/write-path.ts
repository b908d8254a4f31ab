import { encodeMessage, type InvalidationMessage, wallClockMs } from '../../bus/messages.ts';
import { CacheError, errors } from '../../errors.ts';
import { checkKey } from '../../keys.ts';
import type { Loaded } from '../../types.ts';
import type { VersionedState } from './state.ts';

/**
 * The write path, called after the database commit with the row it returned: the data entry is
 * written and the pointer moved forward together with the PUBLISH of `{key, version}` (one round
 * trip, retried up to `invalidateAttempts`), then the writer's own L1 takes the new version so
 * that its next read sees its own write.
 */
export function createWritePath<V>(state: VersionedState<V>) {
  const { context, l1, marks, store } = state;
  const { counters, config, keys } = context;
  const channel = keys.channel();

  async function moveAndPublish(key: string, written: Loaded<V>): Promise<boolean> {
    const ttlMs = written.value === null ? config.negativeTtlMs : config.ttlMs;
    for (let attempt = 1; attempt <= config.invalidateAttempts; attempt++) {
      const message = {
        type: 'inv',
        key,
        version: written.version,
        origin: state.origin,
        seq: state.nextSeq(),
        ts: wallClockMs(),
      } satisfies InvalidationMessage;
      try {
        await store.fill(key, written, ttlMs, { channel, payload: encodeMessage(message) });
        counters.invalidationsSent++;
        return true;
      } catch (error) {
        counters.publishFailures++;
        context.redisFailed(error);
      }
    }
    return false;
  }

  return async function invalidate(key: string, written: Loaded<V>): Promise<void> {
    checkKey(key);
    counters.invalidations++;
    const published = await moveAndPublish(key, written);
    // Own L1 and mark after Redis: a concurrent reader that missed L1 meanwhile reads Redis,
    // which already holds this version.
    marks.raise(key, written.version);
    l1.set(key, written);
    if (!published) {
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
