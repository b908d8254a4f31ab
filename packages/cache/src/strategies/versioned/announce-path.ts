import { checkAnnounced } from '../../codec.ts';
import type { Announced } from '../../types.ts';
import type { VersionedState } from './state.ts';

/**
 * Announcements of versions committed elsewhere (relayed from the database's outbox), without a
 * value: this instance's L1 and marks first, then the pointer moved forward and the invalidation
 * published by one Lua script per key. Nothing is retried here: the caller keeps what failed (the
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

  async function announceMany(entries: readonly Announced[]): Promise<void> {
    // All checked before any is sent: a bad entry fails the call without a partial effect.
    for (const entry of entries) checkAnnounced(entry);
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
