/**
 * The stable codes of the errors the cache throws or reports. What each means, and whether it is
 * thrown or reported to `onError`, is the catalogue in the package README ("Errors"), which a test
 * keeps in step with this map.
 */
export const cacheErrorCodes = {
  invalidKey: 'E_INVALID_KEY',
  invalidEntry: 'E_INVALID_ENTRY',
  versionUnavailable: 'E_VERSION_UNAVAILABLE',
  redisTimeout: 'E_REDIS_TIMEOUT',
  redisFailed: 'E_REDIS_FAILED',
  redisSkipped: 'E_REDIS_SKIPPED',
  corruptEntry: 'E_CORRUPT_ENTRY',
  invalidationFailed: 'E_INVALIDATION_FAILED',
  subscribeFailed: 'E_SUBSCRIBE_FAILED',
  overloaded: 'E_OVERLOADED',
} as const;

/** A code from {@link cacheErrorCodes}. */
export type CacheErrorCode = (typeof cacheErrorCodes)[keyof typeof cacheErrorCodes];

/** An error of the cache; `cause` keeps the underlying error. */
export class CacheError extends Error {
  readonly code: CacheErrorCode;

  constructor(code: CacheErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CacheError';
    this.code = code;
  }
}

/**
 * A read asked for `minVersion` (a read-your-writes token) but the source of truth, loaded afresh,
 * holds only `version` (`0`: the key does not exist). The cache never answers below the token, so
 * the read fails with `E_VERSION_UNAVAILABLE`. Versions come from the source of truth, so such a
 * token was not issued by it: it belongs to another database, or was made up.
 */
export class VersionUnavailableError extends CacheError {
  readonly key: string;
  readonly minVersion: number;
  readonly version: number;

  constructor(key: string, minVersion: number, version: number) {
    super(
      cacheErrorCodes.versionUnavailable,
      `${key} is at version ${version} in the source of truth, below the minVersion ${minVersion} asked for`,
    );
    this.name = 'VersionUnavailableError';
    this.key = key;
    this.minVersion = minVersion;
    this.version = version;
  }
}
