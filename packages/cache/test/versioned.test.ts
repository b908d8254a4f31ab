import { describe, expect, it } from 'vitest';
import { waitFor } from '../../../test/support/index.ts';
import type { Cache, CacheOptions, Strategy } from '../src/index.ts';
import { cacheFixture, gate, mapLoader, uniqueNamespace } from './fixture.ts';

type User = { name: string };
const v = (version: number) => ({ value: { name: `v${version}` }, version });

/** `count` instances sharing one namespace, each with its own connections, all trusting their bus. */
async function cluster(count: number, options: Partial<CacheOptions> = {}) {
  const namespace = uniqueNamespace();
  const instances: Awaited<ReturnType<typeof cacheFixture<User>>>[] = [];
  for (let i = 0; i < count; i++) {
    instances.push(await cacheFixture<User>({ namespace, origin: `i${i}`, ...options }));
  }
  if ((options.strategy ?? 'versioned') === 'versioned') {
    await waitFor(() => instances.every(({ cache }) => cache.stats().trusted), {
      what: 'every instance to trust its bus',
    });
  }
  return instances;
}

/** Waits until `cache` has received `count` invalidations from other instances. */
function receivedInvalidations(cache: Cache<User>, count: number) {
  return waitFor(() => cache.stats().invalidationsReceived >= count, {
    timeoutMs: 2000,
    what: `${count} invalidation(s) received`,
  });
}

describe('versioned strategy: tiers and layout', () => {
  it('serves MISS, then L1 on the same instance and L2 on another', async () => {
    const [a, b] = await cluster(2);
    const source = mapLoader<User>({ k: v(3) });
    expect(await a?.cache.getOrLoad('k', source.load)).toMatchObject({ version: 3, tier: 'MISS' });
    expect(await a?.cache.getOrLoad('k', source.load)).toMatchObject({ version: 3, tier: 'L1' });
    expect(await b?.cache.getOrLoad('k', source.load)).toMatchObject({ version: 3, tier: 'L2' });
    expect(await b?.cache.getOrLoad('k', source.load)).toMatchObject({ version: 3, tier: 'L1' });
    expect(source.calls).toEqual(['k']);
  });

  it('keeps a version pointer and data entries keyed by version, with TTLs', async () => {
    const [a] = await cluster(1, { ttlMs: 20_000 });
    if (!a) throw new Error('no instance');
    await a.cache.getOrLoad('k', mapLoader<User>({ k: v(3) }).load);
    expect(await a.redis.get(a.keys.pointer('k'))).toBe('3');
    expect(JSON.parse((await a.redis.get(a.keys.data('k', 3))) ?? 'null')).toEqual({ name: 'v3' });
    expect(await a.redis.pTTL(a.keys.pointer('k'))).toBeGreaterThan(15_000);

    await a.cache.invalidate('k', v(4));
    expect(await a.redis.get(a.keys.pointer('k'))).toBe('4');
    expect(await a.redis.exists(a.keys.data('k', 3))).toBe(0);
  });

  it('never moves the pointer back: a stale fill leaves the newer version current', async () => {
    const [a, b] = await cluster(2);
    if (!a || !b) throw new Error('no instances');
    await a.cache.invalidate('k', v(5));
    // The data entry of v5 is evicted; b then loads an older row (a lagging read) and fills.
    await a.redis.del(a.keys.data('k', 5));
    expect(await b.cache.getOrLoad('k', async () => v(4))).toMatchObject({
      version: 4,
      tier: 'MISS',
    });
    expect(await a.redis.get(a.keys.pointer('k'))).toBe('5');
    expect(await a.redis.exists(a.keys.data('k', 4))).toBe(0);
    // The next fill of v5 (a reader that reads the database now) makes v5 servable again.
    expect(await b.cache.getOrLoad('k', async () => v(5))).toMatchObject({
      version: 5,
      tier: 'MISS',
    });
    const [fresh] = await cluster(1, { namespace: a.namespace });
    expect(await fresh?.cache.getOrLoad('k', async () => v(0))).toMatchObject({
      version: 5,
      tier: 'L2',
    });
  });

  it('caches "not found" with its version and shows a later create', async () => {
    const [a, b] = await cluster(2);
    if (!a || !b) throw new Error('no instances');
    const source = mapLoader<User>();
    expect(await a.cache.getOrLoad('new', source.load)).toMatchObject({
      value: null,
      tier: 'MISS',
    });
    expect(await a.cache.getOrLoad('new', source.load)).toMatchObject({ value: null, tier: 'L1' });

    source.entries.new = v(1);
    await b.cache.invalidate('new', v(1));
    await waitFor(async () => (await a.cache.getOrLoad('new', source.load)).version === 1, {
      timeoutMs: 1000,
      what: 'the create to reach a',
    });
  });
});

describe('versioned strategy: races', () => {
  it.each([
    ['versioned', false],
    ['delete', true],
  ] as [Strategy, boolean][])(
    'stale set, %s: a reader held after its database read while a writer commits and invalidates',
    async (strategy, losesTheRace) => {
      const [reader, writer, observer] = await cluster(3, { strategy });
      if (!reader || !writer || !observer) throw new Error('no instances');
      const source = mapLoader<User>({ k: v(1) });
      const heldAfterLoad = gate();
      const loaded = gate();
      let holdNextFill = true;
      const slowReader = await cacheFixture<User>({
        namespace: reader.namespace,
        strategy,
        origin: 'slow',
        hooks: {
          async beforeFill() {
            if (!holdNextFill) return;
            holdNextFill = false;
            loaded.open();
            await heldAfterLoad.opened;
          },
        },
      });
      await waitFor(() => strategy !== 'versioned' || slowReader.cache.stats().trusted);

      // 1. The slow reader misses and reads v1 from the database, then is held.
      const slowRead = slowReader.cache.getOrLoad('k', source.load);
      await loaded.opened;
      // 2. The writer commits v2 and invalidates.
      source.entries.k = v(2);
      await writer.cache.invalidate('k', v(2));
      if (strategy === 'versioned') await receivedInvalidations(slowReader.cache, 1);
      // 3. The slow reader goes on and fills the caches with what it read.
      heldAfterLoad.open();
      expect((await slowRead).version).toBe(1);

      const versions = [];
      for (const instance of [slowReader, reader, writer, observer]) {
        versions.push((await instance.cache.getOrLoad('k', source.load)).version);
      }
      if (losesTheRace) {
        expect(versions).toContain(1);
      } else {
        expect(versions).toEqual([2, 2, 2, 2]);
        expect(await writer.redis.get(writer.keys.pointer('k'))).toBe('2');
        expect(slowReader.cache.stats().fillsRejected.superseded).toBe(1);
      }
    },
  );

  it('takes duplicate and reordered messages (v3, v2, v3, v5, v4) as their max', async () => {
    const [a, forger] = await cluster(2);
    if (!a || !forger) throw new Error('no instances');
    const source = mapLoader<User>({ k: v(3) });
    await a.cache.getOrLoad('k', source.load);
    expect((await a.cache.getOrLoad('k', source.load)).tier).toBe('L1');

    source.entries.k = v(5);
    for (const [seq, version] of [3, 2, 3, 5, 4].entries()) {
      const message = { type: 'inv', key: 'k', version, origin: 'elsewhere', seq, ts: Date.now() };
      await forger.redis.publish(forger.keys.channel(), JSON.stringify(message));
    }
    await receivedInvalidations(a.cache, 5);
    // v3 in Redis is below the mark (5): it is skipped, and the database's v5 is loaded.
    expect(await a.cache.getOrLoad('k', source.load)).toMatchObject({ version: 5, tier: 'MISS' });
    expect(await a.cache.getOrLoad('k', source.load)).toMatchObject({ version: 5, tier: 'L1' });
    // A loader lagging behind the mark is answered but never cached.
    const lagging = await cluster(1, { namespace: a.namespace, origin: 'late' });
    expect(a.cache.stats().l2Stale).toBe(1);
    await lagging[0]?.cache.invalidate('k', v(6));
    await receivedInvalidations(a.cache, 6);
    expect(await a.cache.getOrLoad('k', async () => v(5))).toMatchObject({
      version: 6,
      tier: 'L2',
    });
  });
});

describe('versioned strategy: what readers see after writes', () => {
  it('gives the writer its own writes: 1,000 write-then-read pairs, zero older reads', async () => {
    const [a, b] = await cluster(2);
    if (!a || !b) throw new Error('no instances');
    const source = mapLoader<User>({ k: v(1) });
    let older = 0;
    for (let version = 2; version <= 1001; version++) {
      source.entries.k = v(version);
      // Another instance keeps reading, so that its fills race with the writes.
      void b.cache.getOrLoad('k', source.load);
      await a.cache.invalidate('k', v(version));
      if ((await a.cache.getOrLoad('k', source.load)).version < version) older++;
    }
    expect(older).toBe(0);
    expect(a.cache.stats().l1Hits).toBeGreaterThanOrEqual(1000);
  });

  it('shows a write on A on every instance within the bound, and at once with a token', async () => {
    const instances = await cluster(3);
    const [a] = instances;
    if (!a) throw new Error('no instances');
    const source = mapLoader<User>({ k: v(1) });
    let olderWithToken = 0;
    const delays: number[] = [];
    for (let version = 2; version <= 51; version++) {
      for (const { cache } of instances) await cache.getOrLoad('k', source.load);
      source.entries.k = v(version);
      await a.cache.invalidate('k', v(version));
      const written = performance.now();
      for (const { cache } of instances) {
        const read = await cache.getOrLoad('k', source.load, { minVersion: version });
        if (read.version < version) olderWithToken++;
      }
      await waitFor(
        async () => {
          for (const { cache } of instances) {
            if ((await cache.getOrLoad('k', source.load)).version < version) return false;
          }
          return true;
        },
        { timeoutMs: 1000, intervalMs: 1, what: `v${version} everywhere` },
      );
      delays.push(performance.now() - written);
    }
    expect(olderWithToken).toBe(0);
    expect(Math.max(...delays)).toBeLessThan(1000);
  });

  it('serves a strict read from L1 only after Redis confirms its version', async () => {
    const [a, b] = await cluster(2);
    if (!a || !b) throw new Error('no instances');
    const source = mapLoader<User>({ k: v(1) });
    await a.cache.getOrLoad('k', source.load);
    expect(await a.cache.getOrLoad('k', source.load, { consistency: 'strict' })).toMatchObject({
      version: 1,
      tier: 'L1',
    });
    // Pretend the invalidation for v2 is still in flight: only Redis knows about v2.
    await b.redis.sendCommand(['SET', b.keys.data('k', 2), JSON.stringify({ name: 'v2' })]);
    await b.redis.sendCommand(['SET', b.keys.pointer('k'), '2']);
    expect(await a.cache.getOrLoad('k', source.load)).toMatchObject({ version: 1, tier: 'L1' });
    expect(await a.cache.getOrLoad('k', source.load, { consistency: 'strict' })).toMatchObject({
      version: 2,
      tier: 'L2',
    });
    expect(a.cache.stats()).toMatchObject({ strictConfirmed: 1, strictRefuted: 1 });
  });

  it.each(['versioned', 'delete'] as Strategy[])(
    '%s: 100 concurrent reads of a just-invalidated key on each of 3 instances load once per instance',
    async (strategy) => {
      const instances = await cluster(3, { strategy });
      const [a] = instances;
      if (!a) throw new Error('no instances');
      const sources = instances.map(() => mapLoader<User>({ k: v(1) }));
      for (const [i, { cache }] of instances.entries()) {
        await cache.getOrLoad('k', (sources[i] as ReturnType<typeof mapLoader<User>>).load);
      }
      for (const source of sources) source.calls.length = 0;
      // A write whose Redis fill was lost (evicted): Redis still has v1, the database v2.
      const releases = sources.map((source) => {
        source.entries.k = v(2);
        return source.hold();
      });
      if (strategy === 'versioned') {
        const message = { type: 'inv', key: 'k', version: 2, origin: 'w', seq: 0, ts: Date.now() };
        await a.redis.publish(a.keys.channel(), JSON.stringify(message));
        for (const { cache } of instances) await receivedInvalidations(cache, 1);
      } else {
        await a.cache.invalidate('k', v(2));
      }
      const reads = instances.flatMap(({ cache }, i) =>
        Array.from({ length: 100 }, () =>
          cache.getOrLoad('k', (sources[i] as ReturnType<typeof mapLoader<User>>).load),
        ),
      );
      await waitFor(() => sources.every((source) => source.calls.length >= 1));
      for (const release of releases) release();
      const results = await Promise.all(reads);
      expect(results.every((read) => read.version === 2)).toBe(true);
      expect(sources.map((source) => source.calls.length)).toEqual([1, 1, 1]);
    },
  );
});
