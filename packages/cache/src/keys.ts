import { CacheError, errors } from './errors.ts';

const NAMESPACE = /^[A-Za-z0-9_.-]{1,32}$/;
// Braces would break the hash tag; control characters and spaces make keys unreadable in tools.
// An unpaired surrogate cannot travel as UTF-8: Redis would get U+FFFD (two keys, one entry), and
// JSON escapes it to six characters, so its announcement could outgrow what receivers accept.
const FORBIDDEN_IN_KEY = /[{}\s\p{Cc}\p{Cs}]/u;
/** Longest cache key, in UTF-16 code units. */
export const MAX_KEY_LENGTH = 512;

/**
 * Builds every Redis key and channel name the cache uses. No other module writes a Redis key.
 * A cache key is wrapped in a hash tag (`{…}`) so that all Redis keys of one cache key live in
 * the same Redis Cluster slot, which the Lua scripts rely on.
 */
export interface KeyBuilder {
  /** Basic strategies: where the entry of `key` lives, e.g. `cl:{user:42}:val`. */
  value(key: string): string;
  /** Versioned strategy: the pointer to the current version, e.g. `cl:{user:42}:ver`. */
  pointer(key: string): string;
  /** Versioned strategy: prefix of the data entries, e.g. `cl:{user:42}:v:` (+ version). */
  dataPrefix(key: string): string;
  /** Versioned strategy: the data entry of one version, e.g. `cl:{user:42}:v:7`. */
  data(key: string, version: number): string;
  /**
   * Versioned strategy: the load lease of `key`, held by the one instance loading it from the
   * source of truth, e.g. `cl:{user:42}:lease` (same hash tag, same slot).
   */
  lease(key: string): string;
  /** The Pub/Sub channel that carries invalidations and heartbeats, e.g. `cl:invalidations`. */
  channel(): string;
  /** A `SCAN … MATCH` pattern of every key of this namespace, e.g. `cl:{*` (`npm run reset`). */
  pattern(): string;
}

/** What a namespace must be, as a sentence without its name. */
export const NAMESPACE_RULE = 'must be 1-32 characters of [A-Za-z0-9_.-]';

/** True when `namespace` can prefix the cache's Redis keys and channel. */
export function isValidNamespace(namespace: unknown): namespace is string {
  return typeof namespace === 'string' && NAMESPACE.test(namespace);
}

/** Creates the key builder for a namespace. */
export function createKeys(namespace: string): KeyBuilder {
  if (!isValidNamespace(namespace)) throw new TypeError(`\`namespace\` ${NAMESPACE_RULE}`);
  const tag = (key: string) => `${namespace}:{${checkKey(key)}}`;
  return {
    value: (key) => `${tag(key)}:val`,
    pointer: (key) => `${tag(key)}:ver`,
    dataPrefix: (key) => `${tag(key)}:v:`,
    data: (key, version) => `${tag(key)}:v:${version}`,
    lease: (key) => `${tag(key)}:lease`,
    channel: () => `${namespace}:invalidations`,
    // No glob character can occur in a namespace, so only this namespace's keys match.
    pattern: () => `${namespace}:{*`,
  };
}

/** True when `key` can be used as a cache key. */
export function isValidKey(key: unknown): key is string {
  return (
    typeof key === 'string' &&
    key.length > 0 &&
    key.length <= MAX_KEY_LENGTH &&
    !FORBIDDEN_IN_KEY.test(key)
  );
}

/** Returns `key` when it can be used as a cache key; throws `E_INVALID_KEY` otherwise. */
export function checkKey(key: string): string {
  if (isValidKey(key)) return key;
  throw new CacheError(
    errors.invalidKey,
    `cache keys are 1-${MAX_KEY_LENGTH} characters without braces, spaces, control characters or unpaired surrogates`,
  );
}
