/**
 * Type test, checked by `tsc -b`: the real node-redis client must satisfy the slices of Redis
 * that the cache declares it needs, as a command client and as a subscriber.
 */
import type { createClient } from 'redis';
import type { RedisLike, SubscriberLike } from '../src/index.ts';

export function nodeRedisIsRedisLike(client: ReturnType<typeof createClient>): RedisLike {
  return client;
}

export function nodeRedisIsSubscriberLike(client: ReturnType<typeof createClient>): SubscriberLike {
  return client.duplicate();
}
