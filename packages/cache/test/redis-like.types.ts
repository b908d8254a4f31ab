/**
 * Type test, checked by `tsc -b`: the real node-redis client must satisfy the slices of Redis
 * that the cache declares it needs, as a command client and as a subscriber.
 */
import type { createClient, createCluster } from 'redis';
import type {
  RedisLike,
  RestartAwareRedisLike,
  ShardedRedisLike,
  ShardedSubscriberLike,
  SubscriberLike,
} from '../src/index.ts';

export function nodeRedisIsRedisLike(client: ReturnType<typeof createClient>): RedisLike {
  return client;
}

export function nodeRedisIsRestartAware(
  client: ReturnType<typeof createClient>,
): RestartAwareRedisLike {
  return client;
}

export function nodeRedisIsSubscriberLike(client: ReturnType<typeof createClient>): SubscriberLike {
  return client.duplicate();
}

export function nodeRedisClusterIsShardedRedisLike(
  cluster: ReturnType<typeof createCluster>,
): ShardedRedisLike {
  return cluster;
}

export function nodeRedisClusterIsShardedSubscriberLike(
  cluster: ReturnType<typeof createCluster>,
): ShardedSubscriberLike {
  return cluster.duplicate();
}
