import { CacheError, cacheErrorCodes, VersionUnavailableError } from './errors.ts';
import { checkKey } from './keys.ts';
import { createValueCodec, jsonSerializer, type ValueCodec } from './serializer.ts';
import type { Announced, Loaded, ReadOptions } from './types.ts';

/**
 * How an entry is stored under one Redis key by the strategies without version pointers
 * (`delete`, `ttl-only`): the version travels with the payload (the value as the serializer wrote
 * it).
 */
interface StoredEntry {
  v: number;
  d: string;
}

const JSON_CODEC = createValueCodec<unknown>(jsonSerializer);

/** Serialises an entry for Redis. */
export function encodeEntry<V>(
  entry: Loaded<V>,
  codec: ValueCodec<V> = JSON_CODEC as ValueCodec<V>,
): string {
  return JSON.stringify({ v: entry.version, d: codec.encode(entry.value) } satisfies StoredEntry);
}

/** Parses an entry read from Redis; `undefined` when it is not one this cache wrote. */
export function decodeEntry<V>(
  raw: string,
  codec: ValueCodec<V> = JSON_CODEC as ValueCodec<V>,
): Loaded<V> | undefined {
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
  if (!Number.isSafeInteger(v) || v < 0 || typeof d !== 'string') return undefined;
  const value = codec.decode(d);
  return value === undefined ? undefined : { version: v, value };
}

/**
 * A checked entry as every tier will answer it: its value encoded (the payload Redis stores) and
 * decoded again (deep-frozen), so that the loader's caller gets what other instances read from
 * Redis. `E_INVALID_ENTRY` when the serializer cannot encode the value or read it back.
 */
export function roundTrip<V>(
  codec: ValueCodec<V>,
  entry: Loaded<V>,
  from: string,
): { entry: Loaded<V>; payload: string } {
  let payload: string;
  try {
    payload = codec.encode(entry.value);
  } catch (cause) {
    throw new CacheError(
      cacheErrorCodes.invalidEntry,
      `${from} gave a value the serializer cannot encode`,
      {
        cause,
      },
    );
  }
  const value = codec.decode(payload);
  if (value === undefined) {
    throw new CacheError(
      cacheErrorCodes.invalidEntry,
      `${from} gave a value the serializer cannot decode`,
    );
  }
  return { entry: { value, version: entry.version }, payload };
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

/** Longest wait a Node.js timer takes as given (2^31 - 1 ms), the longest TTL. */
const MAX_TTL_MS = 2_147_483_647;

/** The per-call `ttlMs` (`undefined` when not given); a `TypeError` when it is not a TTL. */
export function ttlMsOf(options: { ttlMs?: number } | undefined): number | undefined {
  const ttlMs = options?.ttlMs;
  if (ttlMs === undefined) return undefined;
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1 || ttlMs > MAX_TTL_MS) {
    throw new TypeError(`\`ttlMs\` must be an integer from 1 to ${MAX_TTL_MS} (ms)`);
  }
  return ttlMs;
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

/** The `version` of a `delete`: a positive safe integer, else `E_INVALID_ENTRY`. */
export function deletedVersion(options: { version: number } | undefined): number {
  const version = options?.version;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    throw new CacheError(
      cacheErrorCodes.invalidEntry,
      `delete needs { version }: the positive integer version of the deletion, got ${String(version)}`,
    );
  }
  return version;
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
