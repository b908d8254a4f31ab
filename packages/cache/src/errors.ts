/**
 * Stable codes of the errors the cache raises or reports:
 * - `E_INVALID_KEY` (thrown): a key that is not 1-512 characters, or holds braces, spaces, control
 *   characters or an unpaired surrogate.
 * - `E_INVALID_ENTRY` (thrown): a loader answer or a written entry that is not `{ value, version }`
 *   with a non-negative integer version and a defined value (`null` for "not found").
 * - `E_VERSION_UNAVAILABLE` (thrown, {@link VersionUnavailableError}): a read's `minVersion` is
 *   above what the source of truth holds, even after a fresh load.
 * - `E_OVERLOADED` (thrown): a miss while `maxConcurrentLoads` loads are in flight.
 * - `E_REDIS_TIMEOUT`, `E_REDIS_FAILED`, `E_CORRUPT_ENTRY`, `E_INVALIDATION_FAILED` (reported to
 *   `onError`, never thrown at readers).
 */
export const errors = {
  invalidKey: 'E_INVALID_KEY',
  invalidEntry: 'E_INVALID_ENTRY',
  versionUnavailable: 'E_VERSION_UNAVAILABLE',
  redisTimeout: 'E_REDIS_TIMEOUT',
  redisFailed: 'E_REDIS_FAILED',
  redisSkipped: 'E_REDIS_SKIPPED',
  corruptEntry: 'E_CORRUPT_ENTRY',
  invalidationFailed: 'E_INVALIDATION_FAILED',
  overloaded: 'E_OVERLOADED',
} as const;

/** A code from {@link errors}. */
export type CacheErrorCode = (typeof errors)[keyof typeof errors];

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
      errors.versionUnavailable,
      `${key} is at version ${version} in the source of truth, below the minVersion ${minVersion} asked for`,
    );
    this.name = 'VersionUnavailableError';
    this.key = key;
    this.minVersion = minVersion;
    this.version = version;
  }
}
