import { setTimeout as delay } from 'node:timers/promises';
import { uniqueName, waitFor } from '@cachelab/testkit';
import { describe, expect, it } from 'vitest';
import type { CacheOptions, Loaded } from '../src/index.ts';
import { validateCacheOptions } from '../src/options.ts';
import { READ } from '../src/redis/scripts.ts';
import { leasePollMs } from '../src/strategies/versioned/read-path.ts';
import { cacheFixture, redisClient } from './fixture.ts';

type User = { name: string };
const v = (version: number): Loaded<User> => ({ value: { name: `v${version}` }, version });

/** `count` instances sharing one namespace, all trusting their bus. */
async function cluster(count: number, options: Partial<CacheOptions> = {}) {
  const namespace = uniqueName();
  const instances: Awaited<ReturnType<typeof cacheFixture<User>>>[] = [];
  for (let i = 0; i < count; i++) {
    instances.push(await cacheFixture<User>({ namespace, origin: `i${i}`, ...options }));
  }
  await waitFor(() => instances.every(({ cache }) => cache.stats().trusted), {
    what: 'every instance to trust its bus',
  });
  return instances;
}

/** A "database" of one row that takes `ms` per load and counts its loads. */
function slowSource(row: () => Loaded<User>, ms = 100) {
  const source = {
    loads: 0,
    load: async () => {
      source.loads++;
      const answer = row();
      await delay(ms);
      return answer;
    },
  };
  return source;
}

describe('load lease (pure parts)', () => {
  it('polls every fiftieth of the lease, from 1 to 10 ms', () => {
    expect(leasePollMs(500)).toBe(10);
    expect(leasePollMs(100)).toBe(2);
    expect(leasePollMs(10)).toBe(1);
    expect(leasePollMs(60_000)).toBe(10);
  });

  it('takes LOAD_LEASE_MS from 0 (off) to 60000 ms, 500 by default', () => {
    expect(validateCacheOptions({ loadLeaseMs: 0 })).toEqual([]);
    expect(validateCacheOptions({ loadLeaseMs: 60_000 })).toEqual([]);
    for (const bad of [-1, 1.5, 60_001]) {
      expect(validateCacheOptions({ loadLeaseMs: bad }).map((p) => p.option)).toEqual([
        'loadLeaseMs',
      ]);
    }
  });
});

describe('load lease: one load per cluster', () => {
  it('makes concurrent misses on three instances cost one load, the others served its fill', async () => {
    const instances = await cluster(3);
    const source = slowSource(() => v(4));
    const reads = await Promise.all(
      instances.flatMap(({ cache }) => [1, 2, 3].map(() => cache.getOrLoad('k', source.load))),
    );
    expect(source.loads).toBe(1);
    expect(reads.every((read) => read.version === 4)).toBe(true);
    const waits = instances.map(({ cache }) => cache.stats().leaseWaits);
    expect(waits.filter((w) => w === 1)).toHaveLength(2);
    // The lease is given back once the fill is in.
    const [first] = instances;
    await waitFor(async () => (await first?.redis.exists(first.keys.lease('k'))) === 0, {
      what: 'the lease to be released',
    });
  });

  it("serves a fill that lands between a waiter's lease check and its Redis read", async () => {
    const namespace = uniqueName();
    const holder = await cacheFixture<User>({ namespace, origin: 'holder' });
    // Gates: the holder's load finishes once the waiter checks the lease, and that check (a GET
    // of the lease key) answers only once the holder has filled Redis and given the lease back.
    let waiterChecks = () => {};
    const checking = new Promise<void>((resolve) => {
      waiterChecks = resolve;
    });
    let holderDone = () => {};
    const done = new Promise<void>((resolve) => {
      holderDone = resolve;
    });
    const leaseKey = holder.keys.lease('k');
    const real = await redisClient();
    const gated = new Proxy(real, {
      get(target, property) {
        if (property === 'get') {
          return async (key: string) => {
            if (key === leaseKey) {
              waiterChecks();
              await done;
            }
            return target.get(key);
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const waiter = await cacheFixture<User>({ namespace, origin: 'waiter', redis: gated });
    await waitFor(() => holder.cache.stats().trusted && waiter.cache.stats().trusted, {
      what: 'both instances to trust their bus',
    });
    let loads = 0;
    const holding = holder.cache.getOrLoad('k', async () => {
      loads++;
      await checking;
      return v(4);
    });
    await waitFor(async () => (await real.exists(leaseKey)) === 1, {
      what: 'the holder to take the lease',
    });
    const waiting = waiter.cache.getOrLoad('k', async () => {
      loads++;
      return v(4);
    });
    expect(await holding).toMatchObject({ version: 4, tier: 'MISS' });
    await waitFor(async () => (await real.exists(leaseKey)) === 0, {
      what: 'the holder to give the lease back',
    });
    holderDone();
    expect(await waiting).toMatchObject({ version: 4, tier: 'L2' });
    expect(loads).toBe(1);
    expect(waiter.cache.stats()).toMatchObject({ leaseWaits: 1, leaseTimeouts: 0 });
  });

  it('keeps waiting through its own failed polls (lease check and Redis read) and is served the fill', async () => {
    const namespace = uniqueName();
    const holder = await cacheFixture<User>({ namespace, origin: 'holder' });
    const leaseKey = holder.keys.lease('k');
    // The waiter's first poll fails: its lease check and its Redis read both throw (as a timeout
    // of its own would), while the holder is still loading.
    let failedPoll = () => {};
    const pollFailed = new Promise<void>((resolve) => {
      failedPoll = resolve;
    });
    let reads = 0;
    let leaseChecks = 0;
    const real = await redisClient();
    const flaky = new Proxy(real, {
      get(target, property) {
        if (property === 'get') {
          return async (key: string) => {
            if (key === leaseKey && ++leaseChecks === 1) throw new Error('lease check failed');
            return target.get(key);
          };
        }
        if (property === 'evalSha') {
          return async (sha: string, options: unknown) => {
            // The second READ: the first is the read before the miss, the second the first poll.
            if (sha === READ.sha && ++reads === 2) {
              failedPoll();
              throw new Error('read failed');
            }
            return target.evalSha(sha, options as Parameters<typeof target.evalSha>[1]);
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const waiter = await cacheFixture<User>({ namespace, origin: 'waiter', redis: flaky });
    await waitFor(() => holder.cache.stats().trusted && waiter.cache.stats().trusted, {
      what: 'both instances to trust their bus',
    });
    let loads = 0;
    const holding = holder.cache.getOrLoad('k', async () => {
      loads++;
      await pollFailed;
      return v(4);
    });
    await waitFor(async () => (await real.exists(leaseKey)) === 1, {
      what: 'the holder to take the lease',
    });
    const read = await waiter.cache.getOrLoad('k', async () => {
      loads++;
      return v(4);
    });
    await holding;
    expect(read).toMatchObject({ version: 4, tier: 'L2' });
    expect(loads).toBe(1);
    expect(waiter.cache.stats()).toMatchObject({
      leaseWaits: 1,
      leaseTimeouts: 0,
      degradedReads: 1,
    });
  });

  it('costs one load per instance with loadLeaseMs 0 (off)', async () => {
    const instances = await cluster(3, { loadLeaseMs: 0 });
    const source = slowSource(() => v(4));
    await Promise.all(instances.map(({ cache }) => cache.getOrLoad('k', source.load)));
    expect(source.loads).toBe(3);
  });

  it('never lets a dead lease holder block: a waiter loads itself once the lease expires', async () => {
    const [a] = await cluster(1, { loadLeaseMs: 300 });
    if (!a) throw new Error('no instance');
    // A holder that took the lease and died before filling.
    await a.redis.set(a.keys.lease('k'), 'dead-holder', { PX: 300 });
    const startedAt = performance.now();
    const source = slowSource(() => v(2), 0);
    expect(await a.cache.getOrLoad('k', source.load)).toMatchObject({ version: 2, tier: 'MISS' });
    expect(source.loads).toBe(1);
    expect(a.cache.stats().leaseTimeouts).toBe(1);
    // Bounded by the lease, generously for a loaded machine.
    expect(performance.now() - startedAt).toBeLessThan(3_000);
  });

  it('never serves a holder fill below a version the waiter has heard of: it loads itself', async () => {
    const [lagging, waiter, writer] = await cluster(3);
    if (!lagging || !waiter || !writer) throw new Error('no instances');
    // The waiter has heard of v5 (announced by a write whose Redis entries were then evicted).
    await writer.cache.set('k', v(5));
    await waitFor(() => waiter.cache.stats().invalidationsReceived >= 1, {
      what: 'the announcement',
    });
    await writer.redis.del([writer.keys.pointer('k'), writer.keys.data('k', 5)]);
    // A lagging holder (it never heard of v5: a fresh instance) loads an old row and fills v3.
    const old = slowSource(() => v(3), 150);
    const fresh = slowSource(() => v(5), 0);
    const holding = lagging.cache.getOrLoad('k', old.load);
    await waitFor(async () => (await lagging.redis.exists(lagging.keys.lease('k'))) === 1, {
      what: 'the lagging instance to hold the lease',
    });
    const read = await waiter.cache.getOrLoad('k', fresh.load);
    expect(read).toMatchObject({ version: 5 });
    expect(fresh.loads).toBe(1);
    await holding;
    expect(waiter.cache.stats().leaseWaits).toBe(0);
  });
});
