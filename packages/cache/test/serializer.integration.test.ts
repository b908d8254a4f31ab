import { uniqueName, waitFor } from '@cachelab/testkit';
import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import type { Loaded, Serializer } from '../src/index.ts';
import { cacheFixture } from './fixture.ts';

type Profile = { createdAt: Date; tags: Set<string>; visits: Map<string, bigint> };

const superjsonSerializer: Serializer = {
  encode: (value) => superjson.stringify(value),
  decode: (text) => superjson.parse(text),
};

/** A fresh profile object per load, as a database driver would build one. */
const profile = (): Profile => ({
  createdAt: new Date('2026-01-02T03:04:05.678Z'),
  tags: new Set(['admin', 'beta']),
  visits: new Map([['home', 2n ** 60n]]),
});

async function twoInstances(serializer?: Serializer) {
  const namespace = uniqueName();
  const options = { namespace, ...(serializer ? { serializer } : {}) };
  const a = await cacheFixture<Profile>({ ...options, origin: 'a' });
  const b = await cacheFixture<Profile>({ ...options, origin: 'b' });
  await waitFor(() => a.cache.stats().trusted && b.cache.stats().trusted, {
    what: 'both buses to be trusted',
  });
  return { a: a.cache, b: b.cache };
}

describe('one answer from every tier', () => {
  it('with superjson: the loader (A) and Redis (B) answer the same Date, Set, Map and BigInt', async () => {
    const { a, b } = await twoInstances(superjsonSerializer);
    const load = async (): Promise<Loaded<Profile>> => ({ value: profile(), version: 1 });
    const fromLoader = await a.getOrLoad('profile:1', load);
    const fromRedis = await b.getOrLoad('profile:1', load);
    expect(fromLoader.tier).toBe('MISS');
    expect(fromRedis.tier).toBe('L2');
    expect(fromLoader.value).toEqual(profile());
    expect(fromRedis.value).toEqual(fromLoader.value);
    expect(fromRedis.value?.createdAt).toBeInstanceOf(Date);
    expect(fromRedis.value?.tags).toBeInstanceOf(Set);
    expect(fromRedis.value?.visits.get('home')).toBe(2n ** 60n);
    expect((await a.getOrLoad('profile:1', load)).value).toEqual(fromRedis.value);
  });

  it('with JSON (the default): the loading instance gets what JSON gives back, as every other does', async () => {
    const { a, b } = await twoInstances();
    const load = async () => ({
      value: { createdAt: new Date(0), tags: new Set(['x']) } as never,
      version: 1,
    });
    const fromLoader = await a.getOrLoad('profile:2', load);
    const fromRedis = await b.getOrLoad('profile:2', load);
    expect(fromLoader.value).toEqual({ createdAt: '1970-01-01T00:00:00.000Z', tags: {} });
    expect(fromRedis.value).toEqual(fromLoader.value);
  });

  it('hands out frozen values: a caller cannot change what the next hit returns', async () => {
    const { a, b } = await twoInstances(superjsonSerializer);
    const load = async (): Promise<Loaded<Profile>> => ({ value: profile(), version: 1 });
    for (const cache of [a, b]) {
      const first = (await cache.getOrLoad('profile:3', load)).value as Profile;
      expect(() => first.tags.add('root')).toThrow(TypeError);
      expect(() => first.visits.set('x', 1n)).toThrow(TypeError);
      expect(() => first.createdAt.setFullYear(1999)).toThrow(TypeError);
      expect(() => {
        (first as { createdAt: unknown }).createdAt = null;
      }).toThrow(TypeError);
      const next = await cache.getOrLoad('profile:3', load);
      expect(next.tier).toBe('L1');
      // The very object stored once, not a copy per hit, and unchanged.
      expect(next.value).toBe(first);
      expect(next.value).toEqual(profile());
    }
  });

  it('gives the writer the value it wrote as the serializer reads it back, frozen', async () => {
    const { a } = await twoInstances(superjsonSerializer);
    const written = profile();
    await a.set('profile:4', { value: written, version: 2 });
    const read = await a.getOrLoad('profile:4', async () => ({ value: null, version: 0 }));
    expect(read).toMatchObject({ version: 2, tier: 'L1' });
    expect(read.value).toEqual(written);
    expect(read.value).not.toBe(written);
    expect(Object.isFrozen(read.value)).toBe(true);
    // The caller's own object is left alone.
    written.tags.add('mine');
    expect(written.tags.has('mine')).toBe(true);
  });

  it('refuses a value the serializer cannot store (a BigInt in JSON) with E_INVALID_ENTRY', async () => {
    const { a } = await twoInstances();
    const load = async () => ({ value: { n: 1n } as never, version: 1 });
    await expect(a.getOrLoad('profile:5', load)).rejects.toMatchObject({ code: 'E_INVALID_ENTRY' });
  });
});
