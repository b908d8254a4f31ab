import { uniqueName, waitFor } from '@cachelab/testkit';
import { describe, expect, it } from 'vitest';
import type { CacheOptions } from '../src/index.ts';
import { cacheFixture, mapLoader } from './fixture.ts';

type User = { name: string };
const v = (version: number) => ({ value: { name: `v${version}` }, version });

async function pair(options: Partial<CacheOptions> = {}) {
  const namespace = uniqueName();
  const a = await cacheFixture<User>({ namespace, origin: 'a', ...options });
  const b = await cacheFixture<User>({ namespace, origin: 'b', ...options });
  await waitFor(() => a.cache.stats().trusted && b.cache.stats().trusted, {
    what: 'both instances to trust their bus',
  });
  return [a, b] as const;
}

describe('announce: versions committed elsewhere, without a value', () => {
  it('moves the pointer forward, drops the old entry, and every instance loads the new row', async () => {
    const [a, b] = await pair();
    const source = mapLoader<User>({ k: v(1) });
    await a.cache.getOrLoad('k', source.load);
    await b.cache.getOrLoad('k', source.load);
    expect(await b.cache.getOrLoad('k', source.load)).toMatchObject({ version: 1, tier: 'L1' });

    source.entries.k = v(2);
    await a.cache.announce('k', 2);
    expect(await a.redis.get(a.keys.pointer('k'))).toBe('2');
    expect(await a.redis.get(a.keys.data('k', 1))).toBeNull();
    // The announcing instance knows at once; the other once the message arrives.
    expect(await a.cache.getOrLoad('k', source.load)).toMatchObject({ version: 2, tier: 'MISS' });
    await waitFor(() => b.cache.stats().invalidationsReceived >= 1, { what: 'b told' });
    expect(await b.cache.getOrLoad('k', source.load)).toMatchObject({ version: 2, tier: 'L2' });
  });

  it('never moves the pointer back: a late or duplicate announcement changes nothing', async () => {
    const [a] = await pair();
    await a.cache.set('k', v(5));
    await a.cache.announceMany([
      { key: 'k', version: 3 },
      { key: 'k', version: 5 },
    ]);
    expect(await a.redis.get(a.keys.pointer('k'))).toBe('5');
    expect(await a.redis.get(a.keys.data('k', 5))).not.toBeNull();
    expect(await a.cache.getOrLoad('k', mapLoader<User>().load)).toMatchObject({ version: 5 });
  });

  it('announces a batch in one script: every pointer moved, old entries dropped, every L1 told', async () => {
    const [a, b] = await pair();
    const ids = Array.from({ length: 50 }, (_, i) => `k${i}`);
    const source = mapLoader<User>(Object.fromEntries(ids.map((id) => [id, v(1)])));
    for (const id of ids) {
      await a.cache.getOrLoad(id, source.load);
      await b.cache.getOrLoad(id, source.load);
    }
    // One key is already past the batch's version: it must not move back, nor be published.
    await a.cache.set('k0', v(9));
    await waitFor(() => b.cache.stats().invalidationsReceived >= 1, { what: 'b told of k0 v9' });
    for (const id of ids) source.entries[id] = id === 'k0' ? v(9) : v(2);
    const sent = a.cache.stats().invalidationsSent;
    const received = b.cache.stats().invalidationsReceived;
    await a.cache.announceMany(ids.map((key) => ({ key, version: 2 })));
    expect(a.cache.stats().announcements).toBe(ids.length);
    expect(a.cache.stats().invalidationsSent - sent).toBe(ids.length - 1);
    expect(await a.redis.get(a.keys.pointer('k0'))).toBe('9');
    for (const id of ids.slice(1)) {
      expect(await a.redis.get(a.keys.pointer(id))).toBe('2');
      expect(await a.redis.get(a.keys.data(id, 1))).toBeNull();
    }
    await waitFor(() => b.cache.stats().invalidationsReceived - received >= ids.length - 1, {
      what: 'b told of the whole batch',
    });
    for (const id of ids) {
      expect(await b.cache.getOrLoad(id, source.load)).toMatchObject({
        version: id === 'k0' ? 9 : 2,
      });
    }
  });

  it('refuses a version that is not a positive safe integer, before touching Redis', async () => {
    const [a] = await pair();
    for (const version of [0, -1, 1.5, Number.NaN, 2 ** 53]) {
      await expect(a.cache.announce('k', version)).rejects.toMatchObject({
        code: 'E_INVALID_ENTRY',
      });
    }
    await expect(
      a.cache.announceMany([
        { key: 'ok', version: 1 },
        { key: '', version: 1 },
      ]),
    ).rejects.toMatchObject({ code: 'E_INVALID_KEY' });
    expect(await a.redis.get(a.keys.pointer('ok'))).toBeNull();
  });

  it('is a counted no-op in the strategies without versions', async () => {
    const a = await cacheFixture<User>({ namespace: uniqueName(), strategy: 'delete' });
    await a.cache.announceMany([{ key: 'k', version: 2 }]);
    expect(a.cache.stats().announcements).toBe(1);
  });
});
