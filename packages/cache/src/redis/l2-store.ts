import { decodeEntry, encodeEntry } from '../codec.ts';
import type { KeyBuilder } from '../keys.ts';
import type { ValueCodec } from '../serializer.ts';
import type { Loaded, RedisLike } from '../types.ts';
import type { RedisCall } from './health-gate.ts';

/** A read of Redis: the entry, nothing (`undefined`), or an entry that could not be decoded. */
export type L2Read<V> = Loaded<V> | undefined | typeof CORRUPT;

/** Marks an entry in Redis that this cache did not write (or that was damaged). */
export const CORRUPT = Symbol('corrupt');

/** The Redis tier: entries stored as JSON under `keys.value(key)` with a TTL. */
export interface L2Store {
  /** Reads the entry of `key`. */
  read<V>(key: string): Promise<L2Read<V>>;
  /** Stores `entry` for `ttlMs`. */
  write<V>(key: string, entry: Loaded<V>, ttlMs: number): Promise<void>;
  /** Removes the entry of `key`. */
  remove(key: string): Promise<void>;
}

/**
 * Creates the Redis tier; every call goes through `call` (bounded, gated; fails as a `CacheError`).
 * Values are encoded and decoded with `codec`.
 */
export function createL2Store(
  redis: RedisLike,
  keys: KeyBuilder,
  call: RedisCall,
  codec: ValueCodec<unknown>,
): L2Store {
  return {
    async read<V>(key: string) {
      const raw = await call('GET', () => redis.get(keys.value(key)));
      if (raw === null) return undefined;
      return (decodeEntry(raw, codec) as Loaded<V> | undefined) ?? CORRUPT;
    },
    async write(key, entry, ttlMs) {
      const expiration = { type: 'PX', value: ttlMs } as const;
      const text = encodeEntry(entry, codec as ValueCodec<unknown>);
      await call('SET', () => redis.set(keys.value(key), text, { expiration }));
    },
    async remove(key) {
      await call('DEL', () => redis.del(keys.value(key)));
    },
  };
}
