import { uniqueName, waitFor } from '@cachelab/testkit';
import { describe, expect, it } from 'vitest';
import type { Cache, CacheOptions, Loaded } from '../src/index.ts';
import { createL1Store } from '../src/local/l1-store.ts';
import { validateCacheOptions } from '../src/options.ts';
import { cacheFixture } from './fixture.ts';

type User = { name: string };
const v = (version: number): Loaded<User> => ({ value: { name: `v${version}` }, version });
const down = async (): Promise<Loaded<User>> => {
  throw new Error('ECONNREFUSED: the database is down');
};

/** Reads `key` through `cache` (v1 from the source), then loses Redis's copy and lets L1 expire. */
async function expiredEverywhere(
  fixture: Awaited<ReturnType<typeof cacheFixture<User>>>,
  key = 'k',
  version = 1,
) {
  await fixture.cache.getOrLoad(key, async () => v(version));
  const storedAt = performance.now();
  await fixture.redis.del([fixture.keys.pointer(key), fixture.keys.data(key, version)]);
  // L1 lives 100 ms here: wait (polling the clock) until it has certainly expired.
  await waitFor(() => performance.now() > storedAt + 150, { what: 'the L1 copy to expire' });
}

const options: Partial<CacheOptions> = { l1TtlMs: 100, ttlJitter: 0, staleIfErrorMs: 5_000 };

function readError(cache: Cache<User>, opts = {}) {
  return cache.getOrLoad('k', down, opts).then(
    (read) => read,
    (error: Error) => error.message,
  );
}

describe('stale-if-error (pure parts)', () => {
  it('keeps an expired L1 entry for the grace period, for getStale only', () => {
    const l1 = createL1Store<number>(10, 100, 0, 1_000);
    l1.set('k', { value: 1, version: 3 });
    const storedAt = performance.now();
    expect(l1.get('k', storedAt + 200)).toBeUndefined();
    expect(l1.getStale('k', storedAt + 200)).toMatchObject({ version: 3 });
    expect(l1.getStale('k', storedAt + 1_200)).toBeUndefined();
    expect(l1.get('k', storedAt + 1_200)).toBeUndefined();
    expect(l1.size).toBe(0);
  });

  it('takes STALE_IF_ERROR_MS from 0 (off, the default) to a day', () => {
    expect(validateCacheOptions({})).toEqual([]);
    expect(validateCacheOptions({ staleIfErrorMs: 86_400_000 })).toEqual([]);
    expect(validateCacheOptions({ staleIfErrorMs: -1 }).map((p) => p.option)).toEqual([
      'staleIfErrorMs',
    ]);
  });
});

describe('stale-if-error on Redis', () => {
  it('serves the expired copy, marked STALE with its age, when the loader fails', async () => {
    const fixture = await cacheFixture<User>(options);
    await waitFor(() => fixture.cache.stats().trusted);
    await expiredEverywhere(fixture);
    const read = await readError(fixture.cache);
    expect(read).toMatchObject({ tier: 'STALE', version: 1, value: { name: 'v1' } });
    expect((read as { ageMs: number }).ageMs).toBeGreaterThanOrEqual(100);
    expect(fixture.cache.stats().staleServed).toBe(1);
  });

  it('fails as before when off (the default), for strict reads and below X-Min-Version', async () => {
    const off = await cacheFixture<User>({ ...options, staleIfErrorMs: 0 });
    await waitFor(() => off.cache.stats().trusted);
    await expiredEverywhere(off);
    expect(await readError(off.cache)).toContain('database is down');

    const on = await cacheFixture<User>(options);
    await waitFor(() => on.cache.stats().trusted);
    await expiredEverywhere(on);
    expect(await readError(on.cache, { consistency: 'strict' })).toContain('database is down');
    expect(await readError(on.cache, { minVersion: 2 })).toContain('database is down');
    expect(on.cache.stats().staleServed).toBe(0);
  });

  it('never serves a copy older than a version announced by another instance', async () => {
    const namespace = uniqueName();
    const reader = await cacheFixture<User>({ ...options, namespace, origin: 'reader' });
    const writer = await cacheFixture<User>({ ...options, namespace, origin: 'writer' });
    await waitFor(() => reader.cache.stats().trusted && writer.cache.stats().trusted);
    await expiredEverywhere(reader);
    await writer.cache.set('k', v(2));
    await waitFor(() => reader.cache.stats().invalidationsReceived >= 1, {
      what: 'the announcement of v2',
    });
    await reader.redis.del([reader.keys.pointer('k'), reader.keys.data('k', 2)]);
    expect(await readError(reader.cache)).toContain('database is down');
  });
});
