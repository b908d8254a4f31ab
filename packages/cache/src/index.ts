export { createCache } from './create-cache.ts';
export {
  CacheError,
  type CacheErrorCode,
  cacheErrorCodes,
  VersionUnavailableError,
} from './errors.ts';
export { CHANNEL_SHARDS, createKeys, isValidKey, type KeyBuilder, shardOfSlot } from './keys.ts';
export {
  type CacheHooks,
  type CacheOptions,
  DEFAULT_CACHE_OPTIONS,
  MAX_ORIGIN_LENGTH,
  type OptionProblem,
  validateCacheOptions,
} from './options.ts';
export { jsonSerializer, type Serializer } from './serializer.ts';
export {
  type Announced,
  type BatchLoader,
  type Cache,
  type CacheEvents,
  type CacheRead,
  type CacheStats,
  type Consistency,
  type DeleteOptions,
  type Loaded,
  type Loader,
  type PropagationStats,
  type ReadOptions,
  type RedisLike,
  type RejectedFills,
  type RejectedMessages,
  type RestartAwareRedisLike,
  type ScanLike,
  type ShardedRedisLike,
  type ShardedSubscriberLike,
  type Strategy,
  type SubscriberEvent,
  type SubscriberLike,
  strategies,
  type Tier,
  tiers,
  type WriteOptions,
} from './types.ts';
