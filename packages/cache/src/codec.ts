import { CacheError, cacheErrorCodes, VersionUnavailableError } from './errors.ts';
import { checkKey } from './keys.ts';
import type { Announced, Loaded, ReadOptions } from './types.ts';

/** How an entry is stored in Redis: the version travels with the value. */
interface StoredEntry {
  v: number;
  d: unknown;
}

/** Serialises an entry for Redis. */
export function encodeEntry<V>(entry: Loaded<V>): string {
  return JSON.stringify({ v: entry.version, d: entry.value } satisfies StoredEntry);
}

/** Parses an entry read from Redis; `undefined` when it is not one this cache wrote. */
export function decodeEntry<V>(raw: string): Loaded<V> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || !('v' in parsed) || !('d' in parsed)) {
    return undefined;
  }
  const { v, d } = parsed as StoredEntry;
  if (!Number.isSafeInteger(v) || v < 0) return undefined;
  return { version: v, value: (d ?? null) as V | null };
}

/**
 * Returns `entry` when it is what loaders and writers must hand over: a defined `value` (`null`
 * for "not found") and a version that is a non-negative safe integer. Throws `E_INVALID_ENTRY`
 * otherwise, before anything reaches Redis or L1.
 */
export function checkEntry<V>(entry: Loaded<V>, from: string): Loaded<V> {
  const version = entry?.version;
  if (
    typeof version !== 'number' ||
    !Number.isSafeInteger(version) ||
    version < 0 ||
    entry.value === undefined
  ) {
    throw new CacheError(
      cacheErrorCodes.invalidEntry,
      `${from} must give { value, version }: a value (null for "not found") and a non-negative integer version`,
    );
  }
  return entry;
}

/** The `minVersion` of a read (`0` when not given); a `TypeError` when it is not a version. */
export function minVersionOf(options: ReadOptions | undefined): number {
  const minVersion = options?.minVersion ?? 0;
  if (!Number.isSafeInteger(minVersion) || minVersion < 0) {
    throw new TypeError('`minVersion` must be a non-negative integer');
  }
  return minVersion;
}

/**
 * Returns `loaded`, an answer of the source of truth, when it is at `minVersion` or above; throws
 * {@link VersionUnavailableError} otherwise: no read answers below its token.
 */
export function atLeast<V>(key: string, loaded: Loaded<V>, minVersion: number): Loaded<V> {
  if (loaded.version < minVersion) {
    throw new VersionUnavailableError(key, minVersion, loaded.version);
  }
  return loaded;
}

/** Checks an announced version: a positive safe integer, else `E_INVALID_ENTRY`. */
export function checkAnnounced(entry: Announced): Announced {
  const version = entry?.version;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    throw new CacheError(
      cacheErrorCodes.invalidEntry,
      `announce needs a positive safe integer version, got ${String(version)}`,
    );
  }
  checkKey(entry.key);
  return entry;
}
