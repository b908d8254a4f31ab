import { waitFor } from '@cachelab/testkit';
import { describe, expect, it } from 'vitest';
import type { Loaded } from '../src/index.ts';
import { cacheFixture } from './fixture.ts';

type User = { name: string };

/** A source of one row at `version`, counting its loads. */
function source(version: number) {
  const s = {
    loads: 0,
    load: async (): Promise<Loaded<User>> => {
      s.loads++;
      return { value: { name: `v${version}` }, version };
    },
  };
  return s;
}

describe('getLocal: the synchronous half of getOrLoad', () => {
  it('answers an L1 hit at once, the very answer getOrLoad gives, counted as one read', async () => {
    const { cache } = await cacheFixture<User>();
    await waitFor(() => cache.stats().trusted, { what: 'the bus to be trusted' });
    const db = source(3);
    // Not in L1 yet: undefined, and nothing counted (getOrLoad counts that read).
    expect(cache.getLocal('k', db.load)).toBeUndefined();
    expect(cache.stats()).toMatchObject({ reads: 0, l1Hits: 0 });
    await cache.getOrLoad('k', db.load);
    const viaPromise = await cache.getOrLoad('k', db.load);
    const local = cache.getLocal('k', db.load);
    expect(local).toEqual({ value: { name: 'v3' }, version: 3, tier: 'L1' });
    expect(local).toBe(viaPromise);
    expect(cache.stats()).toMatchObject({ reads: 3, l1Hits: 2, misses: 1, loads: 1 });
    expect(db.loads).toBe(1);
  });

  it("shares one settled answer between getOrLoad's L1 hits of an entry, a new one once it changes", async () => {
    const { cache } = await cacheFixture<User>();
    await waitFor(() => cache.stats().trusted, { what: 'the bus to be trusted' });
    const db = source(3);
    await cache.getOrLoad('k', db.load);
    const first = cache.getOrLoad('k', db.load);
    expect(cache.getOrLoad('k', db.load)).toBe(first);
    expect(await first).toEqual({ value: { name: 'v3' }, version: 3, tier: 'L1' });
    // With options the read takes the full path: its own promise, the same frozen answer.
    const withOptions = cache.getOrLoad('k', db.load, { minVersion: 3 });
    expect(withOptions).not.toBe(first);
    expect(await withOptions).toBe(await first);
    await cache.set('k', { value: { name: 'v4' }, version: 4 });
    const after = cache.getOrLoad('k', db.load);
    expect(after).not.toBe(first);
    expect(await after).toEqual({ value: { name: 'v4' }, version: 4, tier: 'L1' });
    expect(cache.stats()).toMatchObject({ reads: 5, l1Hits: 4, loads: 1 });
  });

  it('leaves to getOrLoad what L1 may not answer: strict reads and copies below minVersion', async () => {
    const { cache } = await cacheFixture<User>();
    await waitFor(() => cache.stats().trusted, { what: 'the bus to be trusted' });
    const db = source(3);
    await cache.getOrLoad('k', db.load);
    expect(cache.getLocal('k', db.load, { consistency: 'strict' })).toBeUndefined();
    expect(cache.getLocal('k', db.load, { minVersion: 4 })).toBeUndefined();
    expect(cache.getLocal('k', db.load, { minVersion: 3 })).toMatchObject({ tier: 'L1' });
    expect(cache.stats()).toMatchObject({ reads: 2, l1Hits: 1 });
  });

  it('throws what getOrLoad rejects with for a bad key or minVersion', async () => {
    const { cache } = await cacheFixture<User>();
    const db = source(1);
    expect(() => cache.getLocal('a key', db.load)).toThrow(
      expect.objectContaining({ code: 'E_INVALID_KEY' }),
    );
    expect(() => cache.getLocal('k', db.load, { minVersion: -1 })).toThrow(TypeError);
  });

  it('answers undefined without an L1 (redis-only strategies, none)', async () => {
    for (const strategy of ['ttl-only', 'delete', 'none'] as const) {
      const { cache } = await cacheFixture<User>({ strategy });
      const db = source(1);
      await cache.getOrLoad('k', db.load);
      expect(cache.getLocal('k', db.load), strategy).toBeUndefined();
      expect(cache.stats().reads, strategy).toBe(1);
    }
  });
});
