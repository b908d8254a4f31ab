import { uniqueName, waitFor } from '@cachelab/testkit';
import calculateSlot from 'cluster-key-slot';
import { describe, expect, inject, it } from 'vitest';
import { CHANNEL_SHARDS, createKeys, type Strategy, shardOfSlot } from '../src/index.ts';
import { ANNOUNCE, FILL, READ, RELEASE_LEASE, TAKE_LEASE } from '../src/redis/scripts.ts';
import { clusterFixture, keysOnEveryShard, type User, v } from './cluster-fixture.ts';
import { mapLoader } from './fixture.ts';

describe('sharded channels (pure)', () => {
  it('puts each of the 16 channels in the slot range of the keys it announces', () => {
    const keys = createKeys('cl');
    const channels = keys.shardChannels();
    expect(channels).toHaveLength(CHANNEL_SHARDS);
    expect(new Set(channels).size).toBe(CHANNEL_SHARDS);
    channels.forEach((channel, shard) => {
      expect(channel).toMatch(/^cl:inv:\{s\d+-\d+\}$/);
      expect(shardOfSlot(calculateSlot(channel))).toBe(shard);
    });
    for (const key of ['user:1', 'user:42', 'x', 'a:b:c']) {
      const slot = calculateSlot(keys.pointer(key));
      expect(calculateSlot(keys.shardChannel(key))).toSatisfy(
        (channelSlot: number) => shardOfSlot(channelSlot) === shardOfSlot(slot),
      );
    }
  });
});

describe('the keys each script touches (pure)', () => {
  it('are all in the slot of its first declared key, those built from the pointer included', () => {
    const keys = createKeys('cl');
    // Keys of every shape the key rule allows: colons, dots, dashes, unicode, 512 characters.
    const samples = ['user:1', 'user:42', 'x', 'a:b:c', 'order.v2-9', 'ключ:7', 'k'.repeat(512)];
    for (const key of samples) {
      const slot = calculateSlot(keys.pointer(key));
      const touched = [
        keys.data(key, 1), // FILL's declared data entry, READ's and ANNOUNCE's built one
        `${keys.dataPrefix(key)}${Number.MAX_SAFE_INTEGER}`, // the largest version a pointer holds
        keys.lease(key), // TAKE_LEASE, RELEASE_LEASE
      ];
      for (const other of touched) expect([key, calculateSlot(other)]).toEqual([key, slot]);
    }
  });
});

// The shared Redis Cluster of the e2e setup: these tests only read and write, each under a
// namespace of its own. Those that kill connections, flush scripts or change the topology are in
// cluster-faults.e2e.test.ts, on a cluster of their own.
const { clusterClient, instance, instances } = clusterFixture(() => inject('redisClusterNodes'));

describe('a Redis Cluster with sharded Pub/Sub', () => {
  it.each(['ttl-only', 'delete', 'versioned', 'none'] satisfies Strategy[])(
    'runs the %s strategy against a cluster client',
    async (strategy) => {
      const [first] = await instances(1, { strategy });
      if (!first) throw new Error('no instance');
      const source = mapLoader<User>();
      for (const key of keysOnEveryShard()) {
        source.entries[key] = v(1);
        expect(await first.cache.getOrLoad(key, source.load)).toMatchObject({ version: 1 });
        source.entries[key] = v(2);
        await first.cache.set(key, v(2));
        const expected = strategy === 'ttl-only' ? 1 : 2;
        expect(await first.cache.getOrLoad(key, source.load)).toMatchObject({ version: expected });
      }
      expect(first.cache.stats().redisErrors).toBe(0);
    },
  );

  it('getMany over keys of every shard, then clear: every master emptied, every L1 dropped', async () => {
    const namespace = uniqueName();
    const a = await instance(namespace, 'a');
    const b = await instance(namespace, 'b');
    await waitFor(() => a.cache.stats().trusted && b.cache.stats().trusted, {
      what: 'both buses to be trusted',
    });
    const keys = keysOnEveryShard();
    const calls: string[][] = [];
    const batch = async (asked: readonly string[]) => {
      calls.push([...asked]);
      return asked.map(() => v(1));
    };
    const loaded = await a.cache.getMany(keys, batch);
    expect(loaded.map((read) => read.tier)).toEqual(keys.map(() => 'MISS'));
    expect(calls).toEqual([keys]);
    const fromRedis = await b.cache.getMany(keys, batch);
    expect(fromRedis.map((read) => read.tier)).toEqual(keys.map(() => 'L2'));
    expect((await b.cache.getMany(keys, batch)).map((read) => read.tier)).toEqual(
      keys.map(() => 'L1'),
    );
    await a.cache.clear();
    for (const master of a.redis.masters) {
      const node = await a.redis.nodeClient(master);
      expect(await node.keys(`${namespace}:*`)).toEqual([]);
    }
    await waitFor(() => b.cache.stats().l1Size === 0, { what: 'B to drop its L1' });
    for (const key of keys) expect(await b.cache.get(key)).toBeUndefined();
    expect(a.cache.stats().redisErrors + b.cache.stats().redisErrors).toBe(0);
  });

  it('write-then-read across three instances: every read after a write sees it, on every shard', async () => {
    const list = await instances(3);
    const source = mapLoader<User>();
    const keys = keysOnEveryShard();
    for (const key of keys) source.entries[key] = v(1);
    // Every instance holds version 1 of every key in L1.
    for (const { cache } of list) {
      for (const key of keys) await cache.getOrLoad(key, source.load);
      for (const key of keys) expect((await cache.getOrLoad(key, source.load)).tier).toBe('L1');
    }
    let mismatches = 0;
    for (const [round, key] of keys.entries()) {
      const writer = list[round % list.length];
      source.entries[key] = v(2);
      await writer?.cache.set(key, v(2));
      for (const { cache } of list) {
        // Eventual reads: the announcement must arrive; strict reads: at once.
        const strict = await cache.getOrLoad(key, source.load, { consistency: 'strict' });
        if (strict.version !== 2) mismatches++;
        await waitFor(async () => (await cache.getOrLoad(key, source.load)).version === 2, {
          timeoutMs: 2000,
          intervalMs: 5,
          what: `${key} v2 everywhere`,
        });
      }
    }
    expect(mismatches).toBe(0);
    for (const { cache } of list) {
      expect(cache.stats()).toMatchObject({ trustLost: 0, redisErrors: 0 });
      expect(cache.stats().invalidationsReceived).toBeGreaterThanOrEqual(
        (2 * keys.length) / list.length - 1,
      );
    }
  });
});

describe('the scripts on a Redis Cluster', () => {
  it("touch only keys of one slot: the data entries they find through the pointer are deleted and read on the pointer's node", async () => {
    const redis = await clusterClient();
    const keys = createKeys(uniqueName());
    for (const key of keysOnEveryShard()) {
      const pointer = keys.pointer(key);
      const prefix = keys.dataPrefix(key);
      const fill = (version: number) =>
        redis.eval(FILL.text, {
          keys: [pointer, keys.data(key, version)],
          arguments: [prefix, String(version), '60000', '120000', `p${version}`, '', '', 'always'],
        });
      expect(await fill(1)).toEqual([1, 1]);
      expect(await redis.eval(READ.text, { keys: [pointer], arguments: [prefix] })).toEqual([
        '1',
        'p1',
      ]);
      // FILL deletes the entry it supersedes, a key it builds from the pointer's value.
      expect(await fill(2)).toEqual([1, 1]);
      expect(await redis.exists(keys.data(key, 1))).toBe(0);
      // So does ANNOUNCE; READ then finds the pointer with no data entry behind it.
      const announced = await redis.eval(ANNOUNCE.text, {
        keys: [pointer],
        arguments: [prefix, '3', '120000', '', ''],
      });
      expect(announced).toBe(1);
      expect(await redis.exists(keys.data(key, 2))).toBe(0);
      expect(await redis.eval(READ.text, { keys: [pointer], arguments: [prefix] })).toEqual(['3']);
      const lease = keys.lease(key);
      expect(await redis.eval(TAKE_LEASE.text, { keys: [lease], arguments: ['me', '1000'] })).toBe(
        1,
      );
      expect(await redis.eval(RELEASE_LEASE.text, { keys: [lease], arguments: ['me'] })).toBe(1);
    }
  });
});
