import { uniqueName, waitFor } from '@cachelab/testkit';
import { describe, expect, it } from 'vitest';
import type { Cache, CacheOptions, Strategy } from '../src/index.ts';
import { cacheFixture, gate, mapLoader } from './fixture.ts';

type User = { name: string };
const v = (version: number) => ({ value: { name: `v${version}` }, version });

/** `count` instances sharing one namespace, each with its own connections, all trusting their bus. */
async function cluster(count: number, options: Partial<CacheOptions> = {}) {
  const namespace = uniqueName();
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

  it('answers every read from Redis when L1 is disabled (l1MaxEntries 0)', async () => {
    const [a] = await cluster(1, { l1MaxEntries: 0 });
    const source = mapLoader<User>({ k: v(3) });
    expect(await a?.cache.getOrLoad('k', source.load)).toMatchObject({ version: 3, tier: 'MISS' });
    expect(await a?.cache.getOrLoad('k', source.load)).toMatchObject({ version: 3, tier: 'L2' });
    expect(await a?.cache.getOrLoad('k', source.load)).toMatchObject({ version: 3, tier: 'L2' });
    expect(a?.cache.stats()).toMatchObject({ l1Hits: 0, l2Hits: 2, l1Size: 0 });
  });

  it('keeps a version pointer and data entries keyed by version, with TTLs', async () => {
    const [a] = await cluster(1, { ttlMs: 20_000 });
    if (!a) throw new Error('no instance');
    await a.cache.getOrLoad('k', mapLoader<User>({ k: v(3) }).load);
    expect(await a.redis.get(a.keys.pointer('k'))).toBe('3');
    expect(JSON.parse((await a.redis.get(a.keys.data('k', 3))) ?? 'null')).toEqual({ name: 'v3' });
    expect(await a.redis.pTTL(a.keys.pointer('k'))).toBeGreaterThan(15_000);

    await a.cache.set('k', v(4));
    expect(await a.redis.get(a.keys.pointer('k'))).toBe('4');
    expect(await a.redis.exists(a.keys.data('k', 3))).toBe(0);
  });

  it('never moves the pointer back: a stale fill leaves the newer version current', async () => {
    const [a, b] = await cluster(2);
    if (!a || !b) throw new Error('no instances');
    await a.cache.set('k', v(5));
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
    await b.cache.set('new', v(1));
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

      // #region tutorial:stale-set-race
      // 1. The slow reader misses and reads v1 from the database, then is held.
      const slowRead = slowReader.cache.getOrLoad('k', source.load);
      await loaded.opened;
      // 2. The writer commits v2 and invalidates.
      source.entries.k = v(2);
      await writer.cache.set('k', v(2));
      if (strategy === 'versioned') await receivedInvalidations(slowReader.cache, 1);
      // 3. The slow reader goes on and fills the caches with what it read.
      heldAfterLoad.open();
      expect((await slowRead).version).toBe(1);
      // #endregion tutorial:stale-set-race

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
    await lagging[0]?.cache.set('k', v(6));
    await receivedInvalidations(a.cache, 6);
    expect(await a.cache.getOrLoad('k', async () => v(5))).toMatchObject({
      version: 6,
      tier: 'L2',
    });
  });
});

describe('versioned strategy: what readers see after writes', () => {
  it('gives the writer its own writes: 1,000 write-then-read pairs, zero older reads', async () => {
    // Every read of the writer must be an L1 hit, so no stall of a busy machine's event loop may
    // withhold L1 (threshold: interval + max(interval / 2, 200 ms)): a heartbeat interval that
    // no run outlasts. The fixture's 50 ms would let a 250 ms pause send a read to Redis.
    const [a, b] = await cluster(2, { heartbeatIntervalMs: 10_000, heartbeatTimeoutMs: 30_000 });
    if (!a || !b) throw new Error('no instances');
    const source = mapLoader<User>({ k: v(1) });
    let older = 0;
    for (let version = 2; version <= 1001; version++) {
      source.entries.k = v(version);
      // Another instance keeps reading, so that its fills race with the writes.
      void b.cache.getOrLoad('k', source.load);
      await a.cache.set('k', v(version));
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
      await a.cache.set('k', v(version));
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
    '%s: 100 concurrent reads of a just-invalidated key on each of 3 instances load once per instance (versioned: once for the cluster)',
    async (strategy) => {
      // The loads are held until every read has missed, which a busy machine may take longer
      // than the default lease to reach: a lease that outlasts the test, so no waiter gives up.
      const instances = await cluster(3, { strategy, loadLeaseMs: 30_000 });
      const [a] = instances;
      if (!a) throw new Error('no instances');
      const sources = instances.map(() => mapLoader<User>({ k: v(1) }));
      for (const [i, { cache }] of instances.entries()) {
        await cache.getOrLoad('k', (sources[i] as ReturnType<typeof mapLoader<User>>).load);
      }
      for (const source of sources) source.calls.length = 0;
      const missesBefore = instances.map(({ cache }) => cache.stats().misses);
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
        await a.cache.set('k', v(2));
      }
      const reads = instances.flatMap(({ cache }, i) =>
        Array.from({ length: 100 }, () =>
          cache.getOrLoad('k', (sources[i] as ReturnType<typeof mapLoader<User>>).load),
        ),
      );
      // Every read has missed (and joined its instance's load) before the loads may finish.
      await waitFor(() =>
        instances.every(({ cache }, i) => cache.stats().misses - (missesBefore[i] ?? 0) === 100),
      );
      for (const release of releases) release();
      const results = await Promise.all(reads);
      expect(results.every((read) => read.version === 2)).toBe(true);
      const loads = sources.map((source) => source.calls.length);
      if (strategy === 'versioned') {
        // The load lease: one instance loads, the others are served its fill.
        expect(loads.reduce((a, b) => a + b, 0)).toBe(1);
      } else {
        expect(loads).toEqual([1, 1, 1]);
      }
    },
  );
});

describe('versioned strategy: interleavings found in review', () => {
  it("keeps a writer's older version out of its L1 once a newer one was announced", async () => {
    const [w, x] = await cluster(2);
    if (!w || !x) throw new Error('no instances');
    // W committed v2, X committed v3, but X's Redis call ran first and W heard of v3.
    await x.cache.set('k', v(3));
    await receivedInvalidations(w.cache, 1);
    await w.cache.set('k', v(2));
    expect(await w.cache.getOrLoad('k', async () => v(3))).toMatchObject({ version: 3 });
    expect(await w.redis.get(w.keys.pointer('k'))).toBe('3');
    expect(w.cache.stats().fillsRejected.superseded).toBe(1);
  });

  it('refuses a fill when the high-water mark it would need may have been forgotten', async () => {
    const [reader, writer] = await cluster(2, { highWaterMarkMaxEntries: 1 });
    if (!reader || !writer) throw new Error('no instances');
    const source = mapLoader<User>({ k: v(1) });
    const release = source.hold();
    const read = reader.cache.getOrLoad('k', source.load);
    await waitFor(() => source.calls.length === 1);
    // v2 of k is announced, then another key's announcement pushes k's mark out.
    await writer.cache.set('k', v(2));
    await writer.cache.set('other', v(1));
    await receivedInvalidations(reader.cache, 2);
    release();
    await read;
    const next = await reader.cache.getOrLoad('k', async () => v(2));
    expect(next.version).toBe(2);
    expect(
      reader.cache.stats().fillsRejected.forgotten + reader.cache.stats().fillsRejected.superseded,
    ).toBe(1);
  });

  it('does not let a read that starts after an announcement join an older load', async () => {
    const [reader, writer] = await cluster(2);
    if (!reader || !writer) throw new Error('no instances');
    const source = mapLoader<User>({ k: v(1) });
    const release = source.hold();
    const first = reader.cache.getOrLoad('k', source.load);
    await waitFor(() => source.calls.length === 1);
    // v2 is announced while the load of v1 is in flight; Redis lost v2's entry (evicted).
    const message = { type: 'inv', key: 'k', version: 2, origin: 'w', seq: 0, ts: Date.now() };
    await writer.redis.publish(writer.keys.channel(), JSON.stringify(message));
    await receivedInvalidations(reader.cache, 1);
    const second = reader.cache.getOrLoad('k', source.load);
    source.entries.k = v(2);
    release();
    expect((await first).version).toBe(1);
    expect((await second).version).toBe(2);
  });

  it('keeps the pointer after its data expired, so a very late fill cannot move it back', async () => {
    const [writer, late] = await cluster(2, { ttlMs: 300 });
    if (!writer || !late) throw new Error('no instances');
    await writer.cache.set('k', v(2));
    await waitFor(async () => (await writer.redis.exists(writer.keys.data('k', 2))) === 0, {
      what: 'the data entry to expire',
    });
    expect(await late.cache.getOrLoad('k', async () => v(1))).toMatchObject({ version: 1 });
    expect(await writer.redis.get(writer.keys.pointer('k'))).toBe('2');
  });

  it('heals a pointer moved back after eviction, and announces the version it restores', async () => {
    const [writer, lagging, healer] = await cluster(3);
    if (!writer || !lagging || !healer) throw new Error('no instances');
    await writer.cache.set('k', v(2));
    await receivedInvalidations(healer.cache, 1);
    await receivedInvalidations(lagging.cache, 1);
    // Redis evicts the pointer; a reader that read v1 long ago fills: Redis now says v1.
    await writer.redis.del([writer.keys.pointer('k'), writer.keys.data('k', 2)]);
    const stale = await cluster(1, { namespace: writer.namespace, origin: 'late' });
    await stale[0]?.cache.getOrLoad('k', async () => v(1));
    expect(await writer.redis.get(writer.keys.pointer('k'))).toBe('1');
    // An instance that heard of v2 refuses Redis's v1, loads v2 and moves the pointer forward,
    // announcing it so that instances which cached v1 drop it.
    expect(await healer.cache.getOrLoad('k', async () => v(2))).toMatchObject({
      version: 2,
      tier: 'MISS',
    });
    expect(await writer.redis.get(writer.keys.pointer('k'))).toBe('2');
    await waitFor(() => (stale[0]?.cache.stats().invalidationsReceived ?? 0) >= 1);
    expect(await stale[0]?.cache.getOrLoad('k', async () => v(2))).toMatchObject({ version: 2 });
  });

  it('rejects versions that are not non-negative integers before they reach Redis', async () => {
    const [a] = await cluster(1);
    if (!a) throw new Error('no instance');
    for (const version of [-1, 1.5, Number.NaN, '5' as unknown as number]) {
      await expect(a.cache.set('k', { value: null, version })).rejects.toMatchObject({
        code: 'E_INVALID_ENTRY',
      });
      await expect(
        a.cache.getOrLoad('k', async () => ({ value: null, version })),
      ).rejects.toMatchObject({
        code: 'E_INVALID_ENTRY',
      });
    }
    expect(await a.redis.exists(a.keys.pointer('k'))).toBe(0);
  });
});

describe('versioned strategy: what arrives on the channel', () => {
  it('counts and drops malformed messages; they neither disable nor poison L1', async () => {
    const [a, b] = await cluster(2);
    if (!a || !b) throw new Error('no instances');
    const hot = mapLoader<User>({ hot: v(3) });
    await a.cache.getOrLoad('hot', hot.load);
    expect((await a.cache.getOrLoad('hot', hot.load)).tier).toBe('L1');

    const ok = { type: 'inv', key: 'hot', version: 1, origin: 'x', seq: 0, ts: Date.now() };
    const hb = { type: 'hb', origin: 'i0', seq: 0, ts: Date.now() };
    const garbage = [
      'not json',
      '',
      'null',
      '[]',
      '42',
      '"inv"',
      'x'.repeat(1_000_000),
      JSON.stringify({ ...ok, pad: 'p'.repeat(4000) }),
      JSON.stringify({ ...ok, version: -1 }),
      JSON.stringify({ ...ok, version: 1.5 }),
      JSON.stringify({ ...ok, version: '7' }),
      JSON.stringify({ ...ok, version: 'Infinity' }),
      JSON.stringify({ ...ok, version: null }),
      JSON.stringify({ ...ok, version: [9] }),
      JSON.stringify({ ...ok, version: 2 ** 53 }),
      JSON.stringify({ ...ok, version: 2 ** 60 }),
      JSON.stringify({ ...ok, version: 1e308 }),
      JSON.stringify(ok).replace('"version":1', '"version":9007199254740993'),
      JSON.stringify(ok).replace('"version":1', '"version":Infinity'),
      JSON.stringify({ ...ok, seq: -1 }),
      JSON.stringify({ ...ok, key: 'a{b}' }),
      JSON.stringify({ ...ok, key: 42 }),
      JSON.stringify({ ...ok, key: 'k'.repeat(5000) }),
      JSON.stringify({ ...ok, origin: '' }),
      JSON.stringify({ ...ok, origin: 'bad origin' }),
      JSON.stringify({ ...ok, origin: 42 }),
      JSON.stringify({ ...ok, type: 'nope' }),
      JSON.stringify({ ...ok, ts: 'now' }),
      JSON.stringify({ ...hb, seq: 'x' }),
      '{"__proto__":{"polluted":1},"type":"inv"}',
      '{"constructor":{"prototype":{"polluted":1}},"type":"hb"}',
    ];
    // Well-formed, so not rejected, yet harmless: odd key names live in Maps, and an
    // invalidation claiming to come from the receiver itself is ignored by it.
    const harmless = [
      JSON.stringify({ ...ok, key: '__proto__' }),
      JSON.stringify({ ...ok, key: 'constructor' }),
      JSON.stringify({ ...ok, version: 99, origin: 'i0' }),
    ];
    for (const raw of [...garbage, ...harmless]) await b.redis.publish(b.keys.channel(), raw);
    await waitFor(() => a.cache.stats().messagesRejected.malformed === garbage.length, {
      what: 'every malformed message to be counted',
    });
    await receivedInvalidations(a.cache, 2);
    expect(a.cache.stats()).toMatchObject({
      messagesRejected: { malformed: garbage.length, unsigned: 0, forged: 0 },
      invalidationsReceived: 2,
      trusted: true,
      trustLost: 0,
    });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(await a.cache.getOrLoad('hot', hot.load)).toMatchObject({ version: 3, tier: 'L1' });
    expect(hot.calls).toEqual(['hot']);

    const source = mapLoader<User>({ k: v(1) });
    await a.cache.getOrLoad('k', source.load);
    await b.cache.set('k', v(2));
    await receivedInvalidations(a.cache, 3);
    expect(await a.cache.getOrLoad('k', source.load)).toMatchObject({ version: 2 });
    expect(await a.cache.getOrLoad('k', source.load)).toMatchObject({ version: 2, tier: 'L1' });
  });
});

describe('versioned strategy: events', () => {
  it('reports each propagation delay it receives, and survives a listener that throws', async () => {
    const delays: number[] = [];
    const namespace = uniqueName();
    const reader = await cacheFixture<User>({
      namespace,
      origin: 'reader',
      events: {
        propagated(delayMs) {
          delays.push(delayMs);
          throw new Error('a broken observer');
        },
      },
    });
    const writer = await cacheFixture<User>({ namespace, origin: 'writer' });
    await waitFor(() => reader.cache.stats().trusted && writer.cache.stats().trusted);

    await writer.cache.set('k', v(1));
    await writer.cache.set('k', v(2));
    await receivedInvalidations(reader.cache, 2);
    expect(delays).toHaveLength(2);
    expect(delays.every((ms) => Number.isFinite(ms) && ms >= 0)).toBe(true);
    expect(reader.cache.stats().propagationMs).toMatchObject({ count: 2, last: delays[1] });
    expect(await reader.cache.getOrLoad('k', async () => v(2))).toMatchObject({ version: 2 });
  });
});
