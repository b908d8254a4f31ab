import { waitFor } from '@cachelab/testkit';
import { describe, expect, it } from 'vitest';
import type { Loaded } from '../src/index.ts';
import { validateCacheOptions } from '../src/options.ts';
import { cacheFixture } from './fixture.ts';

type User = { name: string };

/** A source whose row the test changes, counting its loads. */
function source(version: number) {
  const s = {
    version,
    loads: 0,
    load: async (): Promise<Loaded<User>> => {
      s.loads++;
      return { value: { name: `v${s.version}` }, version: s.version };
    },
  };
  return s;
}

const options = { l1TtlMs: 1_000, ttlJitter: 0 };

describe('early refresh', () => {
  it('takes EARLY_REFRESH as a fraction from 0 (off, the default) to 0.9', () => {
    expect(validateCacheOptions({ earlyRefresh: 0.9 })).toEqual([]);
    expect(validateCacheOptions({ earlyRefresh: 1 }).map((p) => p.option)).toEqual([
      'earlyRefresh',
    ]);
  });

  it('answers a hit in the last fraction of the TTL from L1 and reloads once in the background', async () => {
    const { cache } = await cacheFixture<User>({ ...options, earlyRefresh: 0.5 });
    await waitFor(() => cache.stats().trusted);
    const db = source(1);
    await cache.getOrLoad('k', db.load);
    const storedAt = performance.now();
    expect(await cache.getOrLoad('k', db.load)).toMatchObject({ tier: 'L1' });
    expect(db.loads).toBe(1);
    await waitFor(() => performance.now() > storedAt + 600, { what: 'the refresh window' });
    db.version = 2;
    const hits = await Promise.all([1, 2, 3].map(() => cache.getOrLoad('k', db.load)));
    expect(hits.every((hit) => hit.tier === 'L1' && hit.version === 1)).toBe(true);
    await waitFor(() => db.loads === 2, { what: 'one background reload' });
    expect(cache.stats()).toMatchObject({ earlyRefreshes: 1, earlyRefreshFailures: 0 });
    // Renewed: past the old entry's expiry the key is still an L1 hit, with the reloaded row.
    await waitFor(() => performance.now() > storedAt + 1_100, { what: 'the old expiry' });
    // (That hit may fall in the reloaded entry's own window and start the next refresh.)
    expect(await cache.getOrLoad('k', db.load)).toMatchObject({ tier: 'L1', version: 2 });
  });

  it('reloads nothing early when off (the default)', async () => {
    // A long TTL: the read below must land well before expiry, even on a loaded machine.
    const { cache } = await cacheFixture<User>({ ...options, l1TtlMs: 5_000 });
    await waitFor(() => cache.stats().trusted);
    const db = source(1);
    await cache.getOrLoad('k', db.load);
    const storedAt = performance.now();
    await waitFor(() => performance.now() > storedAt + 2_600, {
      what: 'the second half of the TTL',
    });
    expect(await cache.getOrLoad('k', db.load)).toMatchObject({ tier: 'L1' });
    expect(db.loads).toBe(1);
    expect(cache.stats().earlyRefreshes).toBe(0);
  });
});
