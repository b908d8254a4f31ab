import { jitterTtl } from '../jitter.ts';
import type { Loaded } from '../types.ts';

/** An L1 entry: the parsed value, its version, and the read result handed out on a hit. */
export interface L1Entry<V> {
  readonly version: number;
  /** Frozen once per fill, so that a hit allocates nothing. */
  readonly read: Readonly<{ value: V | null; version: number; tier: 'L1' }>;
  readonly expiresAt: number;
  /** When it was stored (ms, `performance.now()`: the clock of `expiresAt`). */
  readonly storedAt: number;
  /** Set on every hit; eviction gives such entries a second chance (CLOCK). */
  used: boolean;
  /**
   * `read` as a settled promise, made by the first hit that answers with one and shared by the
   * next: an awaited hit then allocates nothing.
   */
  settled?: Promise<Readonly<{ value: V | null; version: number; tier: 'L1' }>>;
}

/** The in-process tier: a bounded map of parsed entries, each with a TTL. */
export interface L1Store<V> {
  /**
   * The live entry of `key` at `now` (ms, `performance.now()`: expiry is on the monotonic clock,
   * the one the bus's liveness check reads, so a hit reads the clock once), or `undefined`.
   */
  get(key: string, now: number): L1Entry<V> | undefined;
  /** The entry of `key` if it expired at most `graceMs` before `now` (or is live), else `undefined`. */
  getStale(key: string, now: number): L1Entry<V> | undefined;
  /**
   * Stores `entry` unless a newer version is already held; evicts when full. It lives the L1's TTL,
   * or `maxTtlMs` if shorter (a value cached in Redis for less than that).
   */
  set(key: string, entry: Loaded<V>, maxTtlMs?: number): void;
  /** Drops the entry of `key` when its version is below `version`. */
  dropOlderThan(key: string, version: number): void;
  /** Drops every entry. */
  clear(): void;
  /** Entries held now. */
  readonly size: number;
  /** Entries evicted to respect the size bound since creation. */
  readonly evictions: number;
}

/**
 * Creates an L1 of at most `maxEntries` entries that each live `ttlMs`, shortened by a random
 * part of up to `jitter` of it (see `jitterTtl`; 0: exactly `ttlMs`). When full, the oldest
 * entry not used since the last sweep goes (a CLOCK approximation of LRU that costs a hit only a
 * boolean write), so a hot set survives a flood of one-off keys. With `maxEntries` 0 it holds
 * nothing (L1 disabled). An expired entry is kept `graceMs` longer for `getStale` (stale-if-error),
 * still counted in the size bound.
 */
export function createL1Store<V>(
  maxEntries: number,
  ttlMs: number,
  jitter = 0,
  graceMs = 0,
): L1Store<V> {
  const entries = new Map<string, L1Entry<V>>();
  let evictions = 0;

  function evictOne(): void {
    // Bounded: after one full pass every entry has had its `used` bit cleared.
    for (let scanned = 0; scanned <= entries.size; scanned++) {
      const oldest = entries.entries().next().value;
      if (!oldest) return;
      const [key, entry] = oldest;
      entries.delete(key);
      if (!entry.used) {
        evictions++;
        return;
      }
      entry.used = false;
      entries.set(key, entry);
    }
  }

  return {
    get(key, now) {
      const entry = entries.get(key);
      if (entry === undefined) return undefined;
      if (entry.expiresAt <= now) {
        if (entry.expiresAt + graceMs <= now) entries.delete(key);
        return undefined;
      }
      entry.used = true;
      return entry;
    },
    getStale(key, now) {
      const entry = entries.get(key);
      return entry && entry.expiresAt + graceMs > now ? entry : undefined;
    },
    set(key, { value, version }, maxTtlMs = ttlMs) {
      if (maxEntries === 0) return;
      const current = entries.get(key);
      if (current && current.version > version) return;
      if (!current && entries.size >= maxEntries) evictOne();
      const read = Object.freeze({ value, version, tier: 'L1' as const });
      const storedAt = performance.now();
      const expiresAt = storedAt + jitterTtl(Math.min(ttlMs, maxTtlMs), jitter);
      entries.set(key, { version, read, expiresAt, storedAt, used: false });
    },
    dropOlderThan(key, version) {
      const entry = entries.get(key);
      if (entry && entry.version < version) entries.delete(key);
    },
    clear: () => entries.clear(),
    get size() {
      return entries.size;
    },
    get evictions() {
      return evictions;
    },
  };
}
