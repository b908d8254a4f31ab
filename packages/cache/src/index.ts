export { createCache } from './create-cache.ts';
export { CacheError, type CacheErrorCode, errors } from './errors.ts';
export { createKeys, type KeyBuilder } from './keys.ts';
export { type CacheOptions, DEFAULT_CACHE_OPTIONS } from './options.ts';
export {
  type Cache,
  type CacheRead,
  type CacheStats,
  type Loaded,
  type Loader,
  type RedisLike,
  type Tier,
  tiers,
} from './types.ts';
