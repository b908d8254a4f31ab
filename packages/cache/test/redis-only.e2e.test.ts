import { freePort, startTcpProxy } from '@cachelab/testkit';
import { createClient } from 'redis';
import { describe, expect, inject, it, onTestFinished } from 'vitest';
import { createCache } from '../src/index.ts';
import { cacheFixture, mapLoader, redisClient } from './fixture.ts';

const ada = { name: 'Ada' };

describe('the delete strategy (basic cache-aside over Redis)', () => {
  it('loads on a miss, stores with the TTL, then answers from Redis', async () => {
    const { cache, redis, keys } = await cacheFixture({ strategy: 'delete', ttlMs: 30_000 });
    const source = mapLoader({ '1': { value: ada, version: 3 } });

    expect(await cache.getOrLoad('1', source.load)).toEqual({
      value: ada,
      version: 3,
      tier: 'MISS',
    });
    expect(await cache.getOrLoad('1', source.load)).toEqual({ value: ada, version: 3, tier: 'L2' });
    expect(source.calls).toEqual(['1']);

    const ttl = await redis.pTTL(keys.value('1'));
    expect(ttl).toBeGreaterThan(25_000);
    expect(ttl).toBeLessThanOrEqual(30_000);
    expect(cache.stats()).toMatchObject({ reads: 2, l2Hits: 1, misses: 1, loads: 1 });
  });

  it('caches "not found" with the short negative TTL', async () => {
    const { cache, redis, keys } = await cacheFixture({ strategy: 'delete', negativeTtlMs: 2_000 });
    const source = mapLoader<{ name: string }>();

    expect(await cache.getOrLoad('ghost', source.load)).toMatchObject({
      value: null,
      tier: 'MISS',
    });
    expect(await cache.getOrLoad('ghost', source.load)).toMatchObject({ value: null, tier: 'L2' });
    expect(source.calls).toHaveLength(1);
    expect(await redis.pTTL(keys.value('ghost'))).toBeLessThanOrEqual(2_000);
    expect(cache.stats().negativeHits).toBe(1);
  });

  it('lets a create be seen at once after set, despite a cached "not found"', async () => {
    const { cache } = await cacheFixture({ strategy: 'delete', negativeTtlMs: 60_000 });
    const source = mapLoader<{ name: string }>();
    await cache.getOrLoad('new', source.load);

    source.entries.new = { value: ada, version: 1 };
    await cache.set('new', source.entries.new);
    expect(await cache.getOrLoad('new', source.load)).toEqual({
      value: ada,
      version: 1,
      tier: 'MISS',
    });
  });

  it('makes the next read load the written value after set', async () => {
    const { cache, redis, keys } = await cacheFixture({ strategy: 'delete' });
    const source = mapLoader({ k: { value: ada, version: 1 } });
    await cache.getOrLoad('k', source.load);

    source.entries.k = { value: { name: 'Grace' }, version: 2 };
    await cache.set('k', source.entries.k);
    expect(await redis.exists(keys.value('k'))).toBe(0);
    expect(await cache.getOrLoad('k', source.load)).toMatchObject({ version: 2, tier: 'MISS' });
    expect(cache.stats().writes).toBe(1);
  });

  it('shares one load between concurrent misses on a key', async () => {
    const { cache } = await cacheFixture({ strategy: 'delete' });
    const source = mapLoader({ hot: { value: ada, version: 1 } });
    const release = source.hold();
    const reads = Promise.all(
      Array.from({ length: 50 }, () => cache.getOrLoad('hot', source.load)),
    );
    release();
    const results = await reads;
    expect(source.calls).toEqual(['hot']);
    expect(results.every((r) => r.version === 1 && r.tier === 'MISS')).toBe(true);
    expect(cache.stats()).toMatchObject({ misses: 50, loads: 1 });
  });

  it('keeps keys of different namespaces apart', async () => {
    const a = await cacheFixture({ strategy: 'delete' });
    const b = await cacheFixture({ strategy: 'delete' });
    await a.cache.getOrLoad('k', mapLoader({ k: { value: ada, version: 1 } }).load);
    const read = await b.cache.getOrLoad(
      'k',
      mapLoader({ k: { value: { name: 'B' }, version: 9 } }).load,
    );
    expect(read).toMatchObject({ version: 9, tier: 'MISS' });
  });

  it('treats an entry it did not write as a miss, counts it and overwrites it', async () => {
    const errors: string[] = [];
    const { cache, redis, keys } = await cacheFixture({
      strategy: 'delete',
      onError: (e) => errors.push(e.code),
    });
    await redis.set(keys.value('bad'), 'garbage{');
    const source = mapLoader({ bad: { value: ada, version: 4 } });
    expect(await cache.getOrLoad('bad', source.load)).toMatchObject({ version: 4, tier: 'MISS' });
    expect(await cache.getOrLoad('bad', source.load)).toMatchObject({ version: 4, tier: 'L2' });
    expect(cache.stats().corruptEntries).toBe(1);
    expect(errors).toEqual(['E_CORRUPT_ENTRY']);
  });

  it('passes the loader error through and caches nothing', async () => {
    const { cache, redis, keys } = await cacheFixture({ strategy: 'delete' });
    const failing = async () => {
      throw new Error('database down');
    };
    await expect(cache.getOrLoad('x', failing)).rejects.toThrow('database down');
    expect(await redis.exists(keys.value('x'))).toBe(0);
  });

  it('rejects an invalid key before touching Redis or the loader', async () => {
    const { cache } = await cacheFixture({ strategy: 'delete' });
    const source = mapLoader<{ name: string }>();
    await expect(cache.getOrLoad('a{b}', source.load)).rejects.toMatchObject({
      code: 'E_INVALID_KEY',
    });
    expect(source.calls).toEqual([]);
  });
});

describe('basic cache-aside when Redis is unreachable', () => {
  async function deadRedisCache() {
    // A client whose server went away: commands fail at once instead of queueing.
    const client = createClient({
      url: `redis://127.0.0.1:${await freePort()}`,
      disableOfflineQueue: true,
      socket: { reconnectStrategy: false },
    });
    client.on('error', () => {});
    await client.connect().catch(() => {});
    const reported: string[] = [];
    const cache = createCache<{ name: string }>({
      redis: client,
      strategy: 'delete',
      redisTimeoutMs: 100,
      onError: (e) => reported.push(e.code),
    });
    return { cache, reported };
  }

  it('serves reads from the loader and counts the Redis errors', async () => {
    const { cache, reported } = await deadRedisCache();
    const source = mapLoader({ k: { value: ada, version: 2 } });
    expect(await cache.getOrLoad('k', source.load)).toEqual({
      value: ada,
      version: 2,
      tier: 'MISS',
    });
    expect(cache.stats().redisErrors).toBe(2);
    expect(reported).toEqual(['E_REDIS_FAILED', 'E_REDIS_FAILED']);
  });

  it('reports an invalidation that failed every attempt', async () => {
    const { cache, reported } = await deadRedisCache();
    await cache.set('k', { value: ada, version: 2 });
    expect(cache.stats()).toMatchObject({
      writes: 1,
      invalidationFailures: 1,
      redisErrors: 3,
    });
    expect(reported.at(-1)).toBe('E_INVALIDATION_FAILED');
  });

  it('gives up on a Redis call that does not answer within redisTimeoutMs', async () => {
    // A real Redis behind a path that stops carrying bytes: commands are sent, nothing answers.
    const target = new URL(inject('redisUrl'));
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
    onTestFinished(() => proxy.close());
    const client = await redisClient(`redis://127.0.0.1:${proxy.port}`);
    proxy.blackhole();
    const reported: string[] = [];
    const cache = createCache<{ name: string }>({
      redis: client,
      strategy: 'delete',
      redisTimeoutMs: 50,
      onError: (e) => reported.push(e.code),
    });
    const source = mapLoader({ k: { value: ada, version: 1 } });
    expect(await cache.getOrLoad('k', source.load)).toMatchObject({ version: 1, tier: 'MISS' });
    // The GET gave up after the timeout; the fill was then skipped at once instead of waiting
    // for a second timeout (Redis had not answered since).
    expect(reported).toEqual(['E_REDIS_TIMEOUT']);
    expect(cache.stats()).toMatchObject({ redisErrors: 1, redisSkipped: 1 });
  });
});

describe('the new operations on the Redis-only strategies', () => {
  it('delete strategy: get, getMany (one loader call), delete and clear over Redis alone', async () => {
    const { cache, redis, namespace } = await cacheFixture({ strategy: 'delete' });
    const rows = { a: { value: ada, version: 1 }, b: { value: { name: 'Bo' }, version: 2 } };
    const calls: string[][] = [];
    const batch = async (keys: readonly string[]) => {
      calls.push([...keys]);
      return keys.map((key) => rows[key as 'a' | 'b'] ?? { value: null, version: 0 });
    };
    expect(await cache.get('a')).toBeUndefined();
    const first = await cache.getMany(['b', 'a', 'c', 'a'], batch, { ttlMs: 9_000 });
    expect(first.map((read) => [read.tier, read.version])).toEqual([
      ['MISS', 2],
      ['MISS', 1],
      ['MISS', 0],
      ['MISS', 1],
    ]);
    expect(calls).toEqual([['b', 'a', 'c']]);
    expect(await cache.get('a')).toEqual({ value: ada, version: 1, tier: 'L2' });
    const again = await cache.getMany(['a', 'b'], batch);
    expect(again.map((read) => read.tier)).toEqual(['L2', 'L2']);
    expect(calls).toHaveLength(1);
    await cache.delete('a', { version: 3 });
    expect(await cache.get('a')).toBeUndefined();
    await cache.clear();
    expect(await redis.keys(`${namespace}:*`)).toEqual([]);
  });
});
