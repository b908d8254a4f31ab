import { waitFor } from '@cachelab/testkit';
import { describe, expect, it } from 'vitest';
import { CacheError, cacheErrorCodes, type RedisLike, type Strategy } from '../src/index.ts';
import { cacheFixture, mapLoader, redisClient } from './fixture.ts';

const COUNTED = ['get', 'set', 'del', 'evalSha'] as const;

/**
 * A real client whose calls about `key` are counted (an `eval` after `NOSCRIPT` is the same round
 * trip; heartbeats are not about a key).
 */
async function countingClient(key: string) {
  const client = await redisClient();
  const counts = { calls: 0 };
  const counting = new Proxy(client, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      if (!(COUNTED as readonly (string | symbol)[]).includes(property)) return value.bind(target);
      return (...args: unknown[]) => {
        if (JSON.stringify(args).includes(`{${key}}`)) counts.calls++;
        return value.apply(target, args);
      };
    },
  }) as unknown as RedisLike;
  return { counting, counts };
}

describe.each<Strategy>(['versioned', 'delete', 'ttl-only', 'none'])(
  'a read-your-writes token above the source of truth (%s)',
  (strategy) => {
    it('fails with E_VERSION_UNAVAILABLE, never answering below the token', async () => {
      const { counting, counts } = await countingClient('user:7');
      const { cache } = await cacheFixture({ strategy, redis: counting });
      const db = mapLoader({ 'user:7': { value: { name: 'v1' }, version: 1 } });

      const read = cache.getOrLoad('user:7', db.load, { minVersion: 99 });
      const error = await read.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(CacheError);
      expect((error as CacheError).code).toBe(cacheErrorCodes.versionUnavailable);
      expect(error).toMatchObject({ key: 'user:7', minVersion: 99, version: 1 });
      // The bound docs/consistency.md states: a read that starts the load itself loads once, and asks
      // Redis twice (the read, the fill) at most; `versioned` adds its load lease (take, release).
      expect(db.calls).toEqual(['user:7']);
      expect(counts.calls).toBe({ none: 0, versioned: 4 }[strategy as string] ?? 2);
    });

    it('reloads at most once when it joined a load that another read started', async () => {
      const { cache } = await cacheFixture({ strategy });
      const db = mapLoader({ 'user:7': { value: { name: 'v1' }, version: 1 } });
      const release = db.hold();
      const first = cache.getOrLoad('user:7', db.load);
      await waitFor(() => db.calls.length === 1, { what: 'the first load' });
      const token = cache.getOrLoad('user:7', db.load, { minVersion: 99 });
      const settled = token.catch((e: unknown) => e);
      // Released only once the token's read has missed, i.e. joined the held load (a miss is
      // counted just before the load is joined or started): else it could start a load of its own.
      await waitFor(() => cache.stats().misses === 2, { what: 'the token read to miss' });
      const shared = strategy !== 'none';
      expect(db.calls.length).toBe(shared ? 1 : 2);
      release();
      await first;
      expect(await settled).toMatchObject({ code: cacheErrorCodes.versionUnavailable });
      // The joined load, then one reload of its own (none shares nothing: its one load).
      expect(db.calls.length).toBe(2);
    });

    it('fails the same way for a key the source of truth does not hold', async () => {
      const { cache } = await cacheFixture({ strategy });
      const db = mapLoader<{ name: string }>({});
      await expect(cache.getOrLoad('user:404', db.load, { minVersion: 3 })).rejects.toMatchObject({
        code: cacheErrorCodes.versionUnavailable,
        version: 0,
      });
    });

    it('still answers a token the source of truth has reached', async () => {
      const { cache } = await cacheFixture({ strategy });
      const db = mapLoader({ 'user:7': { value: { name: 'v3' }, version: 3 } });
      await expect(cache.getOrLoad('user:7', db.load, { minVersion: 3 })).resolves.toMatchObject({
        version: 3,
      });
    });

    it('refuses a minVersion that is not a version', async () => {
      const { cache } = await cacheFixture({ strategy });
      const db = mapLoader<{ name: string }>({});
      for (const minVersion of [-1, 1.5, Number.NaN, 2 ** 53]) {
        await expect(cache.getOrLoad('user:7', db.load, { minVersion })).rejects.toThrow(
          /minVersion/,
        );
      }
      expect(db.calls).toEqual([]);
    });
  },
);
