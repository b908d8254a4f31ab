import { waitFor } from '@cachelab/testkit';
import { describe, expect, it } from 'vitest';
import type { Loaded, Strategy } from '../src/index.ts';
import { cacheFixture } from './fixture.ts';

type User = { name: string };
const strategiesUnderTest: Strategy[] = ['versioned', 'delete', 'ttl-only', 'none'];

describe.each(strategiesUnderTest)(
  'what the %s strategy accepts from loaders and writers',
  (strategy) => {
    it('refuses a loader answer without a value (E_INVALID_ENTRY) and stores nothing', async () => {
      const { cache, redis, namespace } = await cacheFixture<User>({ strategy });
      const loader = async () => ({ version: 1 }) as Loaded<User>;
      await expect(cache.getOrLoad('user:1', loader)).rejects.toMatchObject({
        code: 'E_INVALID_ENTRY',
      });
      // No entry nor pointer; the load lease (versioned) is given back without waiting for it.
      await waitFor(async () => (await redis.keys(`${namespace}:{*`)).length === 0, {
        timeoutMs: 2000,
        what: 'nothing of the entry in Redis',
      });
      // Still refused on the next read: nothing of it was kept in L1 either.
      await expect(cache.getOrLoad('user:1', loader)).rejects.toMatchObject({
        code: 'E_INVALID_ENTRY',
      });
    });

    it('refuses a written entry without a value or with a bad version (E_INVALID_ENTRY)', async () => {
      const { cache, redis, namespace } = await cacheFixture<User>({ strategy });
      for (const written of [{ version: 2 }, { value: { name: 'x' }, version: -1 }, undefined]) {
        await expect(cache.set('user:1', written as Loaded<User>)).rejects.toMatchObject({
          code: 'E_INVALID_ENTRY',
        });
      }
      expect(await redis.keys(`${namespace}:{*`)).toEqual([]);
      expect(cache.stats().writes).toBe(0);
    });
  },
);

describe('corrupt Redis entries in the versioned strategy', () => {
  it.each([
    ['a data entry that is not JSON', '3', 'garbage{'],
    ['a pointer that is not a version', 'three', undefined],
  ])(
    'counts %s, reports it, and overwrites it with the loaded entry',
    async (_what, pointer, data) => {
      const reported: string[] = [];
      const { cache, redis, keys } = await cacheFixture<User>({
        l1MaxEntries: 0,
        onError: (error) => reported.push(error.code),
      });
      await redis.set(keys.pointer('user:1'), pointer);
      if (data !== undefined) await redis.set(keys.data('user:1', 3), data);
      const loader = async (): Promise<Loaded<User>> => ({ value: { name: 'Ada' }, version: 3 });
      expect(await cache.getOrLoad('user:1', loader)).toMatchObject({ version: 3, tier: 'MISS' });
      expect(cache.stats().corruptEntries).toBe(1);
      expect(reported).toEqual(['E_CORRUPT_ENTRY']);
      expect(await cache.getOrLoad('user:1', loader)).toMatchObject({ version: 3, tier: 'L2' });
      expect(cache.stats().corruptEntries).toBe(1);
    },
  );
});
