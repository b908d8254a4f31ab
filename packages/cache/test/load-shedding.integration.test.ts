import { describe, expect, it } from 'vitest';
import { CacheError, cacheErrorCodes, type Strategy } from '../src/index.ts';
import { cacheFixture, mapLoader } from './fixture.ts';

type User = { name: string };
const v = (version: number) => ({ value: { name: `v${version}` }, version });

describe('load shedding', () => {
  it.each(['versioned', 'delete'] as Strategy[])(
    '%s: past maxConcurrentLoads a miss on a new key fails at once, one on a loading key joins',
    async (strategy) => {
      const { cache } = await cacheFixture<User>({ strategy, maxConcurrentLoads: 2 });
      const source = mapLoader<User>({ a: v(1), b: v(1), c: v(1) });
      const release = source.hold();
      const a = cache.getOrLoad('a', source.load);
      const b = cache.getOrLoad('b', source.load);
      await expect.poll(() => source.calls.length).toBe(2);
      expect(cache.stats().loadsInFlight).toBe(2);

      const shed = await cache.getOrLoad('c', source.load).catch((error: unknown) => error);
      expect(shed).toBeInstanceOf(CacheError);
      expect((shed as CacheError).code).toBe(cacheErrorCodes.overloaded);
      const joined = cache.getOrLoad('a', source.load);
      // Four misses: a, b, the shed c, and the second read of a, now waiting on a's load.
      await expect.poll(() => cache.stats().misses).toBe(4);

      release();
      expect(await Promise.all([a, b, joined])).toMatchObject([{ version: 1 }, {}, { version: 1 }]);
      expect(source.calls).toEqual(['a', 'b']);
      expect(cache.stats()).toMatchObject({ loadsShed: 1, loadsInFlight: 0, loads: 2 });
      // Shedding is momentary: the key loads as soon as there is room.
      expect(await cache.getOrLoad('c', source.load)).toMatchObject({ version: 1, tier: 'MISS' });
    },
  );

  it.each(['versioned', 'delete'] as Strategy[])(
    '%s: reads whose shared load is older than their minVersion reload once together, within the cap',
    async (strategy) => {
      const { cache } = await cacheFixture<User>({ strategy, maxConcurrentLoads: 1 });
      const source = mapLoader<User>({ a: v(1) });
      const release = source.hold();
      const reads = Array.from({ length: 10 }, () =>
        cache.getOrLoad('a', source.load, { minVersion: 5 }).catch((error: unknown) => error),
      );
      await expect.poll(() => cache.stats().misses).toBe(10);
      release();
      const answers = await Promise.all(reads);
      // The source of truth never reaches the token: every read fails, none answers below it.
      for (const answer of answers) {
        expect(answer).toMatchObject({ code: cacheErrorCodes.versionUnavailable, version: 1 });
      }
      // One load, then one shared reload for the reads that joined it: not one database read per
      // waiting request.
      expect(source.calls).toEqual(['a', 'a']);
    },
  );

  it('keeps L1, negative entries and high-water marks within bounds under a flood, and the hot key in L1', async () => {
    const bound = 200;
    const { cache } = await cacheFixture<User>({
      l1MaxEntries: bound,
      highWaterMarkMaxEntries: bound,
    });
    const source = mapLoader<User>({ hot: v(1) });
    for (let i = 0; i < 20; i++) source.entries[`user-${i}`] = v(1);
    await cache.getOrLoad('hot', source.load);
    let hotL1 = 0;
    const rounds = 4000;
    for (let i = 0; i < rounds; i++) {
      // Mostly ids that do not exist (negative entries), some that do, and writes to distinct
      // keys that each leave a high-water mark behind.
      await cache.getOrLoad(i % 5 === 0 ? `user-${i % 20}` : `ghost-${i}`, source.load);
      if (i % 4 === 0) await cache.set(`written-${i}`, v(2));
      if ((await cache.getOrLoad('hot', source.load)).tier === 'L1') hotL1++;
      const stats = cache.stats();
      expect(stats.l1Size).toBeLessThanOrEqual(bound);
      expect(stats.highWaterMarks).toBeLessThanOrEqual(bound);
    }
    expect(hotL1 / rounds).toBeGreaterThanOrEqual(0.99);
    expect(cache.stats().l1Evictions).toBeGreaterThan(rounds / 2);
  });
});
