/** Stable codes of the errors the cache raises or reports. */
export const errors = {
  invalidKey: 'E_INVALID_KEY',
  invalidEntry: 'E_INVALID_ENTRY',
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
