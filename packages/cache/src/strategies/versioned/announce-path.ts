import { checkAnnounced } from '../../codec.ts';
import type { Announced } from '../../types.ts';
import type { VersionedState } from './state.ts';

/**
 * Announcements of versions committed elsewhere (relayed from the database's outbox), without a
 * value: this instance's L1 and marks first, then the pointer moved forward and the invalidation
 * published by one Lua script for the batch (one per key with sharded Pub/Sub). Nothing is retried here: the caller keeps what failed (the
 * outbox row stays in the database) and announces it again.
 */
export function createAnnouncePath<V>(state: VersionedState<V>, pointerTtlMs: number) {
  const { context, marks, l1, store } = state;
  const { counters } = context;

  async function announceOne({ key, version }: Announced): Promise<void> {
    counters.announcements++;
    // Our own messages come back ignored: this instance learns of the version here.
    marks.raise(key, version);
    l1.dropOlderThan(key, version);
    try {
      const outcome = await store.announce(
        key,
        version,
        pointerTtlMs,
        state.announcement(key, version, 'always'),
      );
      if (outcome !== 'stale') counters.invalidationsSent++;
    } catch (error) {
      counters.publishFailures++;
      context.redisFailed(error);
      throw error;
    }
    // Again after Redis, in case a resubscribe flushed the marks meanwhile.
    marks.raise(key, version);
  }

  /**
   * One script for the whole batch where Redis allows it: the relay's batches cost one round trip
   * instead of one script call per key. Cleared for good when Redis refuses keys of different
   * slots in one script (a Redis Cluster client with global Pub/Sub).
   */
  let oneScript = context.config.pubsub !== 'sharded';

  async function announceTogether(entries: readonly Announced[]): Promise<void> {
    counters.announcements += entries.length;
    for (const { key, version } of entries) {
      marks.raise(key, version);
      l1.dropOlderThan(key, version);
    }
    let outcomes: Awaited<ReturnType<typeof store.announceMany>>;
    try {
      outcomes = await store.announceMany(
        entries.map(({ key, version }) => ({
          key,
          version,
          announcement: state.announcement(key, version, 'always'),
        })),
        pointerTtlMs,
      );
    } catch (error) {
      if (crossSlot(error)) {
        // Not a failure: the caller sends the batch again key by key.
        counters.announcements -= entries.length;
        throw error;
      }
      counters.publishFailures++;
      context.redisFailed(error);
      throw error;
    }
    for (const outcome of outcomes) if (outcome !== 'stale') counters.invalidationsSent++;
    for (const { key, version } of entries) marks.raise(key, version);
  }

  async function announceMany(entries: readonly Announced[]): Promise<void> {
    // All checked before any is sent: a bad entry fails the call without a partial effect.
    for (const entry of entries) checkAnnounced(entry);
    if (oneScript && entries.length > 1) {
      try {
        await announceTogether(entries);
        return;
      } catch (error) {
        if (!crossSlot(error)) throw error;
        oneScript = false;
      }
    }
    // Issued together: node-redis pipelines commands sent in the same tick.
    const results = await Promise.allSettled(entries.map(announceOne));
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
  }

  return {
    announceMany,
    announce: (key: string, version: number) => announceMany([{ key, version }]),
  };
}

/** Redis Cluster's refusal of keys of different slots in one command or script. */
function crossSlot(error: unknown): boolean {
  return String((error as Error)?.message).includes('CROSSSLOT');
}
