import { describe, expect, it } from 'vitest';
import { cacheFixture, mapLoader } from './fixture.ts';

const ada = { name: 'Ada' };

describe('the none strategy (no caching, the baseline)', () => {
  it('calls the loader on every read and stores nothing in Redis', async () => {
    const { cache, redis, namespace } = await cacheFixture({ strategy: 'none' });
    const source = mapLoader({ '1': { value: ada, version: 3 } });

    for (let i = 0; i < 3; i++) {
      expect(await cache.getOrLoad('1', source.load)).toEqual({
        value: ada,
        version: 3,
        tier: 'MISS',
      });
    }
    expect(source.calls).toEqual(['1', '1', '1']);
    expect(await redis.keys(`${namespace}:*`)).toEqual([]);
    expect(cache.stats()).toMatchObject({
      strategy: 'none',
      reads: 3,
      misses: 3,
      loads: 3,
      l1Hits: 0,
      l2Hits: 0,
    });
  });

  it('does not share a load between concurrent reads of one key', async () => {
    const { cache } = await cacheFixture({ strategy: 'none' });
    const source = mapLoader({ hot: { value: ada, version: 1 } });
    const release = source.hold();
    const reads = Promise.all(Array.from({ length: 5 }, () => cache.getOrLoad('hot', source.load)));
    release();
    await reads;
    expect(source.calls).toHaveLength(5);
  });

  it('answers a read after a write with the written row, since it keeps nothing', async () => {
    const { cache } = await cacheFixture({ strategy: 'none' });
    const source = mapLoader({ k: { value: ada, version: 1 } });
    await cache.getOrLoad('k', source.load);
    source.entries.k = { value: { name: 'Grace' }, version: 2 };
    await cache.set('k', source.entries.k);
    expect(await cache.getOrLoad('k', source.load)).toMatchObject({ version: 2, tier: 'MISS' });
    expect(cache.stats().writes).toBe(1);
  });

  it('still rejects an invalid key before calling the loader', async () => {
    const { cache } = await cacheFixture({ strategy: 'none' });
    const source = mapLoader<{ name: string }>();
    await expect(cache.getOrLoad('a b', source.load)).rejects.toMatchObject({
      code: 'E_INVALID_KEY',
    });
    expect(source.calls).toEqual([]);
  });
});
