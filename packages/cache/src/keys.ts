import calculateSlot from 'cluster-key-slot';
import { CacheError, cacheErrorCodes } from './errors.ts';

const NAMESPACE = /^[A-Za-z0-9_.-]{1,32}$/;
// Braces would break the hash tag; control characters and spaces make keys unreadable in tools.
// An unpaired surrogate cannot travel as UTF-8: Redis would get U+FFFD (two keys, one entry), and
// JSON escapes it to six characters, so its announcement could outgrow what receivers accept.
const FORBIDDEN_IN_KEY = /[{}\s\p{Cc}\p{Cs}]/u;
/** Longest cache key, in UTF-16 code units. */
export const MAX_KEY_LENGTH = 512;
/** Slots of a Redis Cluster. */
const SLOTS = 16_384;
/**
 * Sharded Pub/Sub channels per namespace: channel `i` carries the invalidations of the keys whose
 * slot lies in the `i`-th sixteenth of the slot space (1,024 slots), and its own slot lies in that
 * range too, so that it lives on the master that owns (most of) those keys.
 */
export const CHANNEL_SHARDS = 16;

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
  /**
   * Sharded Pub/Sub: the {@link CHANNEL_SHARDS} channels, e.g. `cl:inv:{s3-117}`, each hash-tagged
   * into the slot range of the keys it announces.
   */
  shardChannels(): readonly string[];
  /** Sharded Pub/Sub: the channel of {@link shardChannels} that announces `key`. */
  shardChannel(key: string): string;
  /** A `SCAN … MATCH` pattern of every key of this namespace, e.g. `cl:{*` (`npm run reset`). */
  pattern(): string;
  /**
   * The Redis run (`run_id`) whose content this namespace's keys are known to belong to, e.g.
   * `cl:fence` (outside {@link pattern}): another run's means Redis restarted from a snapshot.
   */
  fence(): string;
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
  const shards = shardChannels(namespace);
  return {
    value: (key) => `${tag(key)}:val`,
    pointer: (key) => `${tag(key)}:ver`,
    dataPrefix: (key) => `${tag(key)}:v:`,
    data: (key, version) => `${tag(key)}:v:${version}`,
    lease: (key) => `${tag(key)}:lease`,
    channel: () => `${namespace}:invalidations`,
    shardChannels: () => shards,
    shardChannel: (key) => shards[shardOfSlot(calculateSlot(checkKey(key)))] as string,
    // No glob character can occur in a namespace, so only this namespace's keys match.
    pattern: () => `${namespace}:{*`,
    fence: () => `${namespace}:fence`,
  };
}

/** The shard (0 … {@link CHANNEL_SHARDS} − 1) whose channel announces the keys of `slot`. */
export function shardOfSlot(slot: number): number {
  return Math.floor((slot * CHANNEL_SHARDS) / SLOTS);
}

// The channel of shard i is the first `${namespace}:inv:{s<i>-<n>}` whose slot falls in shard i's
// range: the hash tag decides the slot, so it is found by trying n = 0, 1, … (a few dozen tries).
function shardChannels(namespace: string): string[] {
  return Array.from({ length: CHANNEL_SHARDS }, (_, shard) => {
    for (let n = 0; ; n++) {
      const tag = `s${shard}-${n}`;
      if (shardOfSlot(calculateSlot(tag)) === shard) return `${namespace}:inv:{${tag}}`;
    }
  });
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
    cacheErrorCodes.invalidKey,
    `cache keys are 1-${MAX_KEY_LENGTH} characters without braces, spaces, control characters or unpaired surrogates`,
  );
}
