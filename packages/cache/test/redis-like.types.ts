/**
 * Type test, checked by `tsc -b`: the real node-redis client must satisfy the slice of Redis that
 * the cache declares it needs.
 */
import type { createClient } from 'redis';
import type { RedisLike } from '../src/index.ts';

export function nodeRedisIsRedisLike(client: ReturnType<typeof createClient>): RedisLike {
  return client;
}
