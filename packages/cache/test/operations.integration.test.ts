import { startTcpProxy, uniqueName, waitFor } from '@cachelab/testkit';
import { describe, expect, inject, it, onTestFinished } from 'vitest';
import { type Cache, createCache, type Loaded } from '../src/index.ts';
import { cacheFixture, FIXTURE_HEARTBEAT, gate, mapLoader, redisClient } from './fixture.ts';

type User = { name: string };

/** Two instances (caches) of one namespace, both trusting their L1. */
async function twoInstances(options: Parameters<typeof cacheFixture>[0] = {}) {
  const namespace = uniqueName();
  const a = await cacheFixture<User>({ namespace, origin: 'a', ...options });
  const b = await cacheFixture<User>({ namespace, origin: 'b', ...options });
  await waitFor(() => a.cache.stats().trusted && b.cache.stats().trusted, {
    what: 'both buses to be trusted',
  });
  return { a, b, namespace };
}

/** A batch loader over a map, recording the keys of each call. */
function batchLoader(entries: Record<string, Loaded<User>>) {
  const calls: string[][] = [];
  return {
    calls,
    load: async (keys: readonly string[]) => {
      calls.push([...keys]);
      return keys.map((key) => entries[key] ?? { value: null, version: 0 });
    },
  };
}

const waitForPropagation = (cache: Cache<User>, count: number) =>
  waitFor(() => cache.stats().invalidationsReceived >= count, { what: 'the announcement' });

describe('get: L1, then Redis, no loader', () => {
  it('answers undefined on a miss, then what another instance loaded, from Redis and then L1', async () => {
    const { a, b } = await twoInstances();
    expect(await b.cache.get('user:1')).toBeUndefined();
    expect(b.cache.stats()).toMatchObject({ reads: 1, misses: 1, loads: 0 });
    const db = mapLoader<User>({ 'user:1': { value: { name: 'Ada' }, version: 3 } });
    await a.cache.getOrLoad('user:1', db.load);
    expect(await b.cache.get('user:1')).toEqual({ value: { name: 'Ada' }, version: 3, tier: 'L2' });
    expect(await b.cache.get('user:1')).toEqual({ value: { name: 'Ada' }, version: 3, tier: 'L1' });
    expect(db.calls).toEqual(['user:1']);
  });

  it('answers a cached "not found" as null, and nothing below minVersion', async () => {
    const { a } = await twoInstances();
    await a.cache.getOrLoad('user:2', mapLoader<User>().load);
    expect(await a.cache.get('user:2')).toEqual({ value: null, version: 0, tier: 'L1' });
    await a.cache.set('user:2', { value: { name: 'Bo' }, version: 4 });
    expect(await a.cache.get('user:2', { minVersion: 5 })).toBeUndefined();
    expect(await a.cache.get('user:2', { minVersion: 4 })).toMatchObject({ version: 4 });
  });

  it('answers undefined once a version was announced without its value, until a load', async () => {
    const { a, b } = await twoInstances();
    await a.cache.set('user:3', { value: { name: 'v1' }, version: 1 });
    await waitForPropagation(b.cache, 1);
    expect(await b.cache.get('user:3')).toMatchObject({ version: 1 });
    // Version 2 committed elsewhere: B drops version 1, and Redis has no value for 2.
    await a.cache.announce('user:3', 2);
    await waitForPropagation(b.cache, 2);
    expect(await b.cache.get('user:3')).toBeUndefined();
    const db = mapLoader<User>({ 'user:3': { value: { name: 'v2' }, version: 2 } });
    await b.cache.getOrLoad('user:3', db.load);
    expect(await a.cache.get('user:3')).toMatchObject({ version: 2, tier: 'L2' });
  });
});

describe('delete: a write-through delete', () => {
  it('caches "not found" at the tombstone version on every instance', async () => {
    const { a, b } = await twoInstances();
    const db = mapLoader<User>({ 'user:4': { value: { name: 'Cy' }, version: 1 } });
    await b.cache.getOrLoad('user:4', db.load);
    expect(await b.cache.get('user:4')).toMatchObject({ tier: 'L1', version: 1 });
    db.entries['user:4'] = { value: null, version: 2 };
    await a.cache.delete('user:4', { version: 2 });
    expect(await a.cache.get('user:4')).toEqual({ value: null, version: 2, tier: 'L1' });
    await waitForPropagation(b.cache, 1);
    expect(await b.cache.get('user:4')).toEqual({ value: null, version: 2, tier: 'L2' });
    expect(db.calls).toEqual(['user:4']);
  });

  it('refuses a version that is not a positive integer, before touching Redis', async () => {
    const { cache } = await cacheFixture<User>();
    for (const version of [0, -1, 1.5, '2', undefined]) {
      await expect(cache.delete('k', { version } as never)).rejects.toMatchObject({
        code: 'E_INVALID_ENTRY',
      });
    }
    expect(cache.stats().writes).toBe(0);
  });
});

describe('getMany: many keys, one Redis round trip, one loader call', () => {
  it('answers in the order asked from every tier, loading the misses in one call', async () => {
    const { a, b } = await twoInstances();
    const rows: Record<string, Loaded<User>> = {
      'user:1': { value: { name: 'one' }, version: 1 },
      'user:2': { value: { name: 'two' }, version: 2 },
      'user:3': { value: { name: 'three' }, version: 3 },
    };
    // user:1 in B's L1, user:2 only in Redis, user:3 and user:4 nowhere.
    await b.cache.getOrLoad('user:1', mapLoader(rows).load);
    await a.cache.getOrLoad('user:2', mapLoader(rows).load);
    const db = batchLoader(rows);
    const keys = ['user:3', 'user:1', 'user:4', 'user:2', 'user:3'];
    const answers = await b.cache.getMany(keys, db.load);
    expect(answers).toEqual([
      { value: { name: 'three' }, version: 3, tier: 'MISS' },
      { value: { name: 'one' }, version: 1, tier: 'L1' },
      { value: null, version: 0, tier: 'MISS' },
      { value: { name: 'two' }, version: 2, tier: 'L2' },
      { value: { name: 'three' }, version: 3, tier: 'MISS' },
    ]);
    expect(db.calls).toEqual([['user:3', 'user:4']]);
    // Filled like a single load: the next batch comes from L1 without a loader call.
    const again = await b.cache.getMany(keys, db.load);
    expect(again.map((read) => read.tier)).toEqual(['L1', 'L1', 'L1', 'L1', 'L1']);
    expect(db.calls).toHaveLength(1);
    // And Redis has what B loaded: A reads it without loading.
    expect(await a.cache.get('user:3')).toMatchObject({ version: 3, tier: 'L2' });
  });

  it('reads every key from Redis in one round trip, not one per key', async () => {
    const namespace = uniqueName();
    const writer = await cacheFixture<User>({ namespace });
    const keys = Array.from({ length: 16 }, (_, i) => `rt:${i}`);
    for (const key of keys) await writer.cache.set(key, { value: { name: key }, version: 1 });
    // The reader's commands cross a proxy that holds every chunk 100 ms each way.
    const target = new URL(inject('redisUrl'));
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
    onTestFinished(() => proxy.close());
    const redis = await redisClient(`redis://127.0.0.1:${proxy.port}`);
    const subscriber = await redisClient(undefined, { subscriber: true });
    const reader = createCache<User>({
      redis,
      subscriber,
      namespace,
      redisTimeoutMs: 5000,
      ...FIXTURE_HEARTBEAT,
    });
    onTestFinished(() => reader.close());
    // Scripts loaded (EVALSHA's NOSCRIPT fallback) before the delay.
    expect(await reader.get('warm-up')).toBeUndefined();
    proxy.delay(100);
    const started = performance.now();
    const answers = await reader.getMany(keys, async () => []);
    const elapsedMs = performance.now() - started;
    expect(answers.map((read) => [read.tier, read.value?.name])).toEqual(
      keys.map((key) => ['L2', key]),
    );
    // One round trip is about 200 ms here; one per key would be 3.2 s.
    expect(elapsedMs).toBeLessThan(800);
  });

  it('joins a load of the same key already in flight instead of loading it again', async () => {
    const { cache } = await cacheFixture<User>({ loadLeaseMs: 0 });
    await waitFor(() => cache.stats().trusted, { what: 'the bus to be trusted' });
    const single = mapLoader<User>({ 'user:1': { value: { name: 'one' }, version: 1 } });
    const release = single.hold();
    const first = cache.getOrLoad('user:1', single.load);
    await waitFor(() => single.calls.length === 1, { what: 'the single load to start' });
    const db = batchLoader({ 'user:2': { value: { name: 'two' }, version: 2 } });
    const many = cache.getMany(['user:1', 'user:2'], db.load);
    await waitFor(() => db.calls.length === 1, { what: 'the batch load' });
    release();
    const [one, two] = await many;
    expect(one).toMatchObject({ value: { name: 'one' }, tier: 'MISS' });
    expect(two).toMatchObject({ value: { name: 'two' }, tier: 'MISS' });
    expect(await first).toEqual(one);
    expect(db.calls).toEqual([['user:2']]);
    expect(cache.stats().loads).toBe(2);
  });

  it('keeps a loaded entry out of L1 when a newer version was announced during the batch', async () => {
    const { a, b } = await twoInstances({ loadLeaseMs: 0 });
    const held = gate();
    const rows = { 'user:9': { value: { name: 'old' }, version: 1 } };
    const slow = async (keys: readonly string[]) => {
      const answer = keys.map((key) => rows[key as 'user:9']);
      await held.opened;
      return answer;
    };
    const reading = b.cache.getMany(['user:9'], slow);
    await a.cache.set('user:9', { value: { name: 'new' }, version: 2 });
    await waitForPropagation(b.cache, 1);
    held.open();
    expect(await reading).toEqual([{ value: { name: 'old' }, version: 1, tier: 'MISS' }]);
    expect(b.cache.stats().fillsRejected.superseded).toBe(1);
    expect(await b.cache.get('user:9')).toMatchObject({ version: 2, tier: 'L2' });
  });

  it('never answers below minVersion: tiers below it are skipped, a source below it fails', async () => {
    const { cache } = await cacheFixture<User>();
    await waitFor(() => cache.stats().trusted, { what: 'the bus to be trusted' });
    await cache.set('user:7', { value: { name: 'v1' }, version: 1 });
    const db = batchLoader({ 'user:7': { value: { name: 'v2' }, version: 2 } });
    const [read] = await cache.getMany(['user:7'], db.load, { minVersion: 2 });
    expect(read).toMatchObject({ version: 2, tier: 'MISS' });
    await expect(cache.getMany(['user:7'], db.load, { minVersion: 3 })).rejects.toMatchObject({
      code: 'E_VERSION_UNAVAILABLE',
    });
  });

  it('refuses a loader answer that is not one entry per key', async () => {
    const { cache } = await cacheFixture<User>();
    const short = async () => [{ value: null, version: 0 }];
    await expect(cache.getMany(['a', 'b'], short)).rejects.toMatchObject({
      code: 'E_INVALID_ENTRY',
    });
  });
});

describe('per-call ttlMs', () => {
  it('gives the Redis entries of getOrLoad, getMany and set the TTL asked for', async () => {
    const { cache, redis, keys } = await cacheFixture<User>({ ttlJitter: 0 });
    const row = { value: { name: 'x' }, version: 1 };
    await cache.getOrLoad('t:1', async () => row, { ttlMs: 5_000 });
    await cache.getMany(['t:2'], async () => [row], { ttlMs: 6_000 });
    await cache.set('t:3', row, { ttlMs: 300_000 });
    await cache.getOrLoad('t:4', async () => row);
    const ttl = (key: string) => redis.pTTL(keys.data(key, 1));
    expect(await ttl('t:1')).toBeGreaterThan(4_000);
    expect(await ttl('t:1')).toBeLessThanOrEqual(5_000);
    expect(await ttl('t:2')).toBeGreaterThan(5_000);
    expect(await ttl('t:2')).toBeLessThanOrEqual(6_000);
    expect(await ttl('t:3')).toBeGreaterThan(60_000);
    // The pointer still outlives its data.
    expect(await redis.pTTL(keys.pointer('t:3'))).toBeGreaterThan(await ttl('t:3'));
    expect(await ttl('t:4')).toBeGreaterThan(50_000);
    expect(await ttl('t:4')).toBeLessThanOrEqual(60_000);
  });

  it('refuses a ttlMs that is not a positive integer', async () => {
    const { cache } = await cacheFixture<User>();
    const row = { value: null, version: 0 };
    await expect(cache.getOrLoad('k', async () => row, { ttlMs: 0 })).rejects.toThrow(TypeError);
    await expect(cache.set('k', row, { ttlMs: 1.5 })).rejects.toThrow('`ttlMs` must be');
  });
});

describe('clear: every entry of the namespace gone, on every instance', () => {
  it('empties Redis and the L1 of every instance, and leaves other namespaces alone', async () => {
    const problems: unknown[] = [];
    const { a, b, namespace } = await twoInstances({ onError: (e) => problems.push(e) });
    const other = await cacheFixture<User>();
    const db = mapLoader<User>({
      'user:1': { value: { name: 'one' }, version: 1 },
      'user:2': { value: { name: 'two' }, version: 2 },
    });
    await a.cache.getOrLoad('user:1', db.load);
    await b.cache.getOrLoad('user:1', db.load);
    await b.cache.getOrLoad('user:2', db.load);
    await other.cache.getOrLoad('user:1', db.load);
    expect(await b.cache.get('user:2')).toMatchObject({ tier: 'L1' });
    await a.cache.clear().catch((error) => {
      throw new Error(`clear failed after ${String(problems)}`, { cause: error });
    });
    // Every entry of a cache key (`ns:{key}:…`) is gone; the snapshot fence (`ns:fence`), which
    // records which Redis run the namespace lives in, stays.
    expect(await a.redis.keys(`${namespace}:{*`)).toEqual([]);
    expect(await other.redis.keys(`${other.namespace}:*`)).not.toEqual([]);
    expect(await a.cache.get('user:1')).toBeUndefined();
    await waitFor(() => b.cache.stats().l1Size === 0, { what: 'B to drop its L1' });
    expect(await b.cache.get('user:2')).toBeUndefined();
    expect(await other.cache.get('user:1')).toMatchObject({ tier: 'L1' });
  });

  it('refuses the fills of a load that started before the clear was heard', async () => {
    const { a, b } = await twoInstances({ loadLeaseMs: 0 });
    const db = mapLoader<User>({ 'user:5': { value: { name: 'before' }, version: 1 } });
    const release = db.hold();
    const loading = b.cache.getOrLoad('user:5', db.load);
    await waitFor(() => db.calls.length === 1, { what: 'B to start loading' });
    await a.cache.clear();
    await waitFor(() => b.cache.stats().invalidationsReceived >= 2, { what: 'both clears' });
    release();
    expect(await loading).toMatchObject({ value: { name: 'before' }, tier: 'MISS' });
    expect(b.cache.stats().fillsRejected.epoch).toBe(1);
    // Neither B's L1 nor Redis took it.
    expect(await b.cache.get('user:5')).toBeUndefined();
    expect(await a.cache.get('user:5')).toBeUndefined();
  });
});
