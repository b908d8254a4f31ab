import { nanoid } from 'nanoid';
import { createClient } from 'redis';
import { afterEach, inject } from 'vitest';
import '../../../test/support/index.ts';
import {
  type Cache,
  type CacheOptions,
  createCache,
  createKeys,
  type Loaded,
} from '../src/index.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** A connected client to the test Redis, closed after the test. */
export async function redisClient(url = inject('redisUrl')) {
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  cleanups.push(async () => {
    if (client.isOpen) client.destroy();
  });
  return client;
}

/** A cache over the test Redis under a namespace of its own, and helpers to look inside Redis. */
export async function cacheFixture<V = { name: string }>(options: Partial<CacheOptions> = {}) {
  const redis = await redisClient();
  const namespace = `t-${nanoid(8).replace(/[^A-Za-z0-9]/g, '_')}`;
  const cache: Cache<V> = createCache<V>({ redis, namespace, ...options });
  const keys = createKeys(namespace);
  return { cache, redis, namespace, keys };
}

/** A loader over a map, counting its calls, optionally held at a gate. */
export function mapLoader<V>(entries: Record<string, Loaded<V>> = {}) {
  const calls: string[] = [];
  let gate: Promise<void> | undefined;
  return {
    calls,
    entries,
    /** Holds every load until the returned function is called. */
    hold(): () => void {
      let release = () => {};
      gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      return release;
    },
    load: async (key: string): Promise<Loaded<V>> => {
      calls.push(key);
      if (gate) await gate;
      return entries[key] ?? { value: null, version: 0 };
    },
  };
}
