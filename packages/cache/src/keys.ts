import { CacheError, errors } from './errors.ts';

const NAMESPACE = /^[A-Za-z0-9_.-]{1,32}$/;
// Braces would break the hash tag; control characters and spaces make keys unreadable in tools.
const FORBIDDEN_IN_KEY = /[{}\s\p{Cc}]/u;
const MAX_KEY_LENGTH = 512;

/** Builds every Redis key the cache uses. No other module writes a Redis key string. */
export interface KeyBuilder {
  /** Where the cached entry of `key` lives, e.g. `cl:{user:42}:val`. */
  value(key: string): string;
}

/**
 * Creates the key builder for a namespace. A key is wrapped in a hash tag (`{…}`) so that all Redis
 * keys of one cache key share a Redis Cluster slot.
 */
export function createKeys(namespace: string): KeyBuilder {
  if (!NAMESPACE.test(namespace)) {
    throw new TypeError('`namespace` must be 1-32 characters of [A-Za-z0-9_.-]');
  }
  return {
    value: (key) => `${namespace}:{${checkKey(key)}}:val`,
  };
}

/** Returns `key` when it can be used as a cache key; throws `E_INVALID_KEY` otherwise. */
export function checkKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new CacheError(errors.invalidKey, `cache keys are 1-${MAX_KEY_LENGTH} characters`);
  }
  if (FORBIDDEN_IN_KEY.test(key)) {
    throw new CacheError(
      errors.invalidKey,
      'cache keys may not contain braces, spaces or control characters',
    );
  }
  return key;
}
