import { deleteMatching } from '../../redis/namespace.ts';
import type { VersionedState } from './state.ts';

/**
 * Clearing the namespace (SPEC §5.8): this instance's `clear()`, and what it does when another
 * instance's clear message arrives.
 */
export function createClearPath<V>(state: VersionedState<V>) {
  const { context, l1 } = state;
  const { counters, config } = context;

  /**
   * The namespace was cleared (here, or heard from another instance): L1 goes, and the fills of
   * loads and reads that started before it are refused (their token's `clears` is older). Marks
   * stay: versions still only grow.
   */
  function dropL1(): void {
    state.clears++;
    l1.clear();
    counters.l1Flushes++;
  }

  /** Tells every instance of the namespace that it was cleared (each ignores its own). */
  async function announceClear(): Promise<void> {
    const { channel, payload, publish } = state.clearAnnouncement();
    // Sharded: SPUBLISHed through the bus, which numbers it (cseq) as it is sent.
    if (publish) await publish();
    else await context.redisCall('PUBLISH clear', () => config.redis.publish(channel, payload));
    counters.invalidationsSent++;
  }

  // #region tutorial:clear
  /**
   * Clears the namespace: L1 and the announcement first (other instances stop serving and filling
   * what they hold), then every Redis key, then L1 and the announcement again, which voids what a
   * read that started between the two could have found in Redis before it was deleted.
   */
  async function clear(): Promise<void> {
    dropL1();
    await announceClear();
    await deleteMatching(config.redis, context.keys.pattern(), context.redisCall);
    dropL1();
    await announceClear();
  }
  // #endregion tutorial:clear

  return {
    clear,
    /** Another instance cleared the namespace: counted as an invalidation received. */
    onClear(): void {
      counters.invalidationsReceived++;
      dropL1();
    },
  };
}
