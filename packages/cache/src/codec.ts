import { CacheError, errors } from './errors.ts';
import type { Loaded } from './types.ts';

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
 * Returns `entry` when its version is a non-negative safe integer (what loaders and writers must
 * hand over); throws `E_INVALID_ENTRY` otherwise, before anything reaches Redis or L1.
 */
export function checkEntry<V>(entry: Loaded<V>, from: string): Loaded<V> {
  const version = entry?.version;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) {
    throw new CacheError(
      errors.invalidEntry,
      `${from} must give { value, version } with a non-negative integer version`,
    );
  }
  return entry;
}
