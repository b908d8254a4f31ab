import { randomBytes } from 'node:crypto';
import { createInvalidationBus } from '../../bus/invalidation-bus.ts';
import {
  type ClearMessage,
  createMessageCodec,
  type InvalidationMessage,
  wallClockMs,
} from '../../bus/messages.ts';
import { CacheError, cacheErrorCodes } from '../../errors.ts';
import { jitterTtl } from '../../jitter.ts';
import { createHighWaterMarks } from '../../local/high-water-marks.ts';
import { createL1Store } from '../../local/l1-store.ts';
import type { RedisCall } from '../../redis/health-gate.ts';
import { createRestartFence } from '../../redis/restart-fence.ts';
import { createVersionedStore } from '../../redis/versioned-store.ts';
import { createValueCodec } from '../../serializer.ts';
import { createPropagationRecorder, snapshotCounters } from '../../stats.ts';
import type { Cache, SubscriberLike } from '../../types.ts';
import type { StrategyContext } from '../context.ts';
import { createAnnouncePath } from './announce-path.ts';
import { createBatchPath } from './batch-path.ts';
import { createClearPath } from './clear-path.ts';
import { createReadPath } from './read-path.ts';
import type { VersionedState } from './state.ts';
import { createWritePath } from './write-path.ts';

/** The store's calls (their `what`) that read pointers, data or leases from Redis. */
const READS_FROM_REDIS = new Set(['read', 'GET pointer', 'GET lease']);

/**
 * `versioned`: per-instance L1 in front of versioned Redis entries (a version pointer per key,
 * moved only forward, and data entries keyed by version), kept coherent by Pub/Sub invalidation.
 * Starts subscribing at once; L1 serves only once the bus is trusted.
 */
export function createVersionedCache<V>(context: StrategyContext): Cache<V> {
  const { config, counters } = context;
  const origin = config.origin ?? randomBytes(6).toString('base64url');
  const l1 = createL1Store<V>(
    config.l1MaxEntries,
    config.l1TtlMs,
    config.ttlJitter,
    config.staleIfErrorMs,
  );
  const marks = createHighWaterMarks(config.highWaterMarkMaxEntries);
  const propagation = createPropagationRecorder();
  const values = createValueCodec<V>(config.serializer);
  let seq = 0;

  // #region tutorial:receiver
  function onInvalidation(message: InvalidationMessage): void {
    counters.invalidationsReceived++;
    const delayMs = Math.max(0, wallClockMs() - message.ts);
    propagation.record(delayMs);
    try {
      config.events.propagated?.(delayMs);
    } catch {
      // A broken observer must not break invalidation.
    }
    // Max is idempotent and commutative: duplicates and reordering change nothing.
    marks.raise(message.key, message.version);
    l1.dropOlderThan(message.key, message.version);
  }
  // #endregion tutorial:receiver

  function onTrustChange(trusted: boolean): void {
    if (!trusted) {
      counters.trustLost++;
      return;
    }
    // Messages may have been lost while the channel was deaf: forget everything learnt before.
    if (counters.trustLost > 0) counters.subscriberReconnects++;
    l1.clear();
    marks.clear();
    counters.l1Flushes++;
  }

  // Signatures cover the namespace's channel name, whichever channel a message travels on.
  const channel = context.keys.channel();
  const codec = createMessageCodec(channel, config.signingSecrets);
  const sharded = config.pubsub === 'sharded';
  const bus = createInvalidationBus({
    publisher: config.redis,
    subscriber: config.subscriber as SubscriberLike,
    pubsub: config.pubsub,
    channels: sharded ? context.keys.shardChannels() : [channel],
    codec,
    origin,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    heartbeatTimeoutMs: config.heartbeatTimeoutMs,
    timeoutMs: config.redisTimeoutMs,
    redisCall: context.redisCall,
    onInvalidation,
    // Called once subscribed, after `clearPath` below exists.
    onClear: () => clearPath.onClear(),
    onTrustChange,
    onStall: () => counters.stalls++,
    // Any drop may be Redis restarting, perhaps from an older snapshot: check before using it.
    onLost: () => fence?.suspect(),
    // Trusted again only once the check has run: a trusted instance reads from Redis at once.
    mayTrust: () => fence?.ready ?? true,
    // Redis is back: check now rather than at the retry of a check that found it down.
    onReconnect: () => {
      if (fence && !fence.ready) fence.suspect();
    },
    onRejected: (reason) => counters.messagesRejected[reason]++,
    onSubscribeFailed: (error) => {
      const reason = (error as Error)?.message ?? String(error);
      const message = `SUBSCRIBE to the invalidation channel failed (${reason}); L1 stays unused until it succeeds`;
      context.redisFailed(
        new CacheError(cacheErrorCodes.subscribeFailed, message, { cause: error }),
      );
    },
  });
  // A single Redis only: a Redis Cluster's nodes restart one by one, each with its replica.
  const fence = sharded
    ? undefined
    : createRestartFence({
        redis: config.redis,
        keys: context.keys,
        redisCall: context.redisCall,
        retryMs: config.heartbeatIntervalMs,
        onUnavailable: (error) => context.redisFailed(error),
      });
  /**
   * The store's calls wait for the first restart check (a few round trips at start). While a
   * later one runs (see createRestartFence), the calls that read what a snapshot could have
   * brought back skip Redis (reads go to the loader), and writes go through: a write moves the
   * pointer forward, which is right on any Redis, and a write held back meanwhile would leave the
   * instances whose check ended first reading the old version after the write returned.
   */
  let firstChecked = fence === undefined;
  void fence?.firstCheck.then(() => {
    firstChecked = true;
  });
  const storeCall: RedisCall = (what, run) => {
    if (!firstChecked && fence) return fence.firstCheck.then(() => storeCall(what, run));
    if (fence !== undefined && !fence.ready && READS_FROM_REDIS.has(what)) {
      const skipped = `${what} skipped: checking whether Redis restarted`;
      return Promise.reject(new CacheError(cacheErrorCodes.redisSkipped, skipped));
    }
    return context.redisCall(what, run);
  };

  // Subscribed once the first restart check has run, so that trust never comes before it.
  const started = (fence?.firstCheck ?? Promise.resolve()).then(() => bus.start());

  // #region tutorial:pointer-ttl
  // The pointer outlives its data, so that a very late fill still finds the newer version.
  const pointerTtlMs = 2 * Math.max(config.ttlMs, config.negativeTtlMs);
  // #endregion tutorial:pointer-ttl
  const state: VersionedState<V> = {
    context,
    l1,
    marks,
    bus,
    store: createVersionedStore(
      config.redis,
      context.keys,
      storeCall,
      values as ReturnType<typeof createValueCodec<unknown>>,
    ),
    origin,
    codec: values,
    clears: 0,
    announcement(key, version, when) {
      const message = {
        type: 'inv',
        key,
        version,
        origin,
        seq: seq++,
        ts: wallClockMs(),
      } satisfies InvalidationMessage;
      if (sharded) {
        // SPUBLISHed by the store after the script, on the key's channel: numbered then.
        const shard = context.keys.shardChannel(key);
        return { channel: shard, when, payload: '', publish: () => bus.publish(shard, message) };
      }
      // Signed here when a secret is set: the FILL script publishes this payload as it is.
      return { channel, when, payload: codec.encode(message) };
    },
    clearAnnouncement() {
      const message = { type: 'clr', origin, seq: seq++, ts: wallClockMs() } satisfies ClearMessage;
      // Every instance subscribes to every shard channel: the first one reaches them all.
      const [first] = context.keys.shardChannels();
      if (!sharded) return { channel, payload: codec.encode(message) };
      const shard = first as string;
      return { channel: shard, payload: '', publish: () => bus.publish(shard, message) };
    },
    ttlOf: (entry, ttlMs = config.ttlMs) => ({
      ttlMs: jitterTtl(entry.value === null ? config.negativeTtlMs : ttlMs, config.ttlJitter),
      // Still longer than any data entry of the key (MUST-VER-3), this one included.
      pointerTtlMs: Math.max(pointerTtlMs, 2 * ttlMs),
    }),
  };

  const clearPath = createClearPath(state);
  const readPath = createReadPath(state);
  const getMany = createBatchPath(state, readPath);
  const writePath = createWritePath(state);
  const announcePath = createAnnouncePath(state, pointerTtlMs);
  return {
    getOrLoad: readPath.getOrLoad,
    getLocal: readPath.getLocal,
    get: readPath.get,
    getMany,
    set: writePath.set,
    delete: writePath.delete,
    clear: clearPath.clear,
    announce: announcePath.announce,
    announceMany: announcePath.announceMany,
    stats: () => ({
      ...snapshotCounters(counters),
      strategy: 'versioned',
      trusted: bus.trusted,
      l1Size: l1.size,
      l1Evictions: l1.evictions,
      highWaterMarks: marks.size,
      pendingInvalidations: writePath.pending(),
      loadsInFlight: readPath.loadsInFlight(),
      propagationMs: propagation.snapshot(),
    }),
    async close() {
      writePath.close();
      fence?.close();
      await started;
      await bus.close();
    },
  };
}
