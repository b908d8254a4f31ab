import { uniqueName, waitFor } from '@cachelab/testkit';
import calculateSlot from 'cluster-key-slot';
import { createCluster } from 'redis';
import { onTestFinished } from 'vitest';
import {
  type Cache,
  type CacheOptions,
  CHANNEL_SHARDS,
  createCache,
  shardOfSlot,
} from '../src/index.ts';

/** The value the cluster tests cache. */
export type User = { name: string };

/** Version `version` of a user, as a loader returns it. */
export const v = (version: number) => ({ value: { name: `v${version}` }, version });

const HEARTBEAT = { heartbeatIntervalMs: 50, heartbeatTimeoutMs: 600 };

/**
 * Clients and caches on the Redis Cluster whose nodes `seeds` returns (`host:port,…`), each
 * closed after the test: the shared cluster of the e2e setup (packages/cache/test/cluster.e2e)
 * or one a test started (cluster-faults.e2e). A function, so that a cluster started in
 * `beforeAll` is read when a test runs.
 */
export function clusterFixture(seeds: () => string) {
  /** A connected cluster client, destroyed after the test. */
  async function clusterClient() {
    const client = createCluster({
      rootNodes: seeds()
        .split(',')
        .map((address) => ({ url: `redis://${address}` })),
      defaults: { socket: { connectTimeout: 1000, reconnectStrategy: () => 50 } },
    });
    client.on('error', () => {});
    await client.connect();
    onTestFinished(async () => client.destroy());
    return client;
  }

  /** An instance: a cache over its own cluster client and sharded subscriber. */
  async function instance(namespace: string, origin: string, options: Partial<CacheOptions> = {}) {
    const redis = await clusterClient();
    const subscriber = redis.duplicate();
    subscriber.on('error', () => {});
    await subscriber.connect();
    onTestFinished(async () => subscriber.destroy());
    const cache: Cache<User> = createCache<User>({
      redis,
      subscriber,
      pubsub: 'sharded',
      namespace,
      origin,
      redisTimeoutMs: 1000,
      ...HEARTBEAT,
      ...options,
    });
    onTestFinished(() => cache.close());
    return { cache, redis, subscriber };
  }

  /** `count` instances on one namespace (a new one unless `options` names it), each trusted. */
  async function instances(count: number, options: Partial<CacheOptions> = {}) {
    const namespace = options.namespace ?? uniqueName();
    const list = [];
    for (let i = 0; i < count; i++) list.push(await instance(namespace, `c${i}`, options));
    for (const { cache } of list) {
      if (cache.stats().strategy !== 'versioned') continue;
      await waitFor(() => cache.stats().trusted, { timeoutMs: 5000, what: 'trust in the bus' });
    }
    return list;
  }

  return { clusterClient, instance, instances };
}

/** One key per channel shard, so that every master and every channel is exercised. */
export function keysOnEveryShard(): string[] {
  const found = new Map<number, string>();
  for (let i = 0; found.size < CHANNEL_SHARDS; i++) {
    const key = `user:${i}`;
    const shard = shardOfSlot(calculateSlot(key));
    if (!found.has(shard)) found.set(shard, key);
  }
  return [...found.values()];
}
