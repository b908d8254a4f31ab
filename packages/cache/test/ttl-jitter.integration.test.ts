import { describe, expect, it } from 'vitest';
import { cacheFixture, mapLoader } from './fixture.ts';

const v = (version: number) => ({ value: { name: `v${version}` }, version });

describe('TTL jitter on Redis', () => {
  it('spreads the Redis TTLs of entries filled together over the last fraction of the TTL', async () => {
    const { cache, redis, keys } = await cacheFixture({ ttlMs: 20_000, ttlJitter: 0.5 });
    const names = Array.from({ length: 30 }, (_, i) => `k${i}`);
    const source = mapLoader(Object.fromEntries(names.map((name) => [name, v(1)])));
    await Promise.all(names.map((name) => cache.getOrLoad(name, source.load)));
    const ttls = await Promise.all(names.map((name) => redis.pTTL(keys.data(name, 1))));
    for (const ttl of ttls) {
      expect(ttl).toBeGreaterThan(9_000);
      expect(ttl).toBeLessThanOrEqual(20_000);
    }
    // Not all in one narrow band: 30 draws from 10 s of spread.
    expect(Math.max(...ttls) - Math.min(...ttls)).toBeGreaterThan(2_000);
    // The pointer outlives every data entry, jittered or not.
    expect(await redis.pTTL(keys.pointer('k0'))).toBeGreaterThan(20_000);
  });

  it('keeps TTLs exact with ttlJitter 0 (the delete strategy too)', async () => {
    const { cache, redis, keys } = await cacheFixture({
      strategy: 'delete',
      ttlMs: 20_000,
      ttlJitter: 0,
    });
    const names = ['a', 'b', 'c', 'd'];
    const source = mapLoader(Object.fromEntries(names.map((name) => [name, v(1)])));
    await Promise.all(names.map((name) => cache.getOrLoad(name, source.load)));
    for (const name of names) expect(await redis.pTTL(keys.value(name))).toBeGreaterThan(19_000);
  });
});
