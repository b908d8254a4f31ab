import { startRedisCluster, type TestRedisCluster, uniqueName, waitFor } from '@cachelab/testkit';
import calculateSlot from 'cluster-key-slot';
import { createCluster } from 'redis';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import {
  type Cache,
  type CacheOptions,
  CHANNEL_SHARDS,
  createCache,
  createKeys,
  type Strategy,
  shardOfSlot,
} from '../src/index.ts';
import { ANNOUNCE, FILL, READ, RELEASE_LEASE, TAKE_LEASE } from '../src/redis/scripts.ts';
import { mapLoader } from './fixture.ts';

type User = { name: string };
const v = (version: number) => ({ value: { name: `v${version}` }, version });

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

// Six redis-server processes: three masters, one replica each.
let cluster: TestRedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster();
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

const HEARTBEAT = { heartbeatIntervalMs: 50, heartbeatTimeoutMs: 600 };

/** A connected cluster client, destroyed after the test. */
async function clusterClient() {
  const client = createCluster({
    rootNodes: cluster.seeds.split(',').map((address) => ({ url: `redis://${address}` })),
    defaults: { socket: { connectTimeout: 1000, reconnectStrategy: () => 50 } },
  });
  client.on('error', () => {});
  await client.connect();
  onTestFinished(async () => client.destroy());
  return client;
}

/** An instance: a cache over its own cluster client and sharded subscriber. */
async function instance(namespace: string, origin: string, options: Partial<CacheOptions> = {}) {
  const redis = await clusterClient();
  const subscriber = redis.duplicate();
  subscriber.on('error', () => {});
  await subscriber.connect();
  onTestFinished(async () => subscriber.destroy());
  const cache: Cache<User> = createCache<User>({
    redis,
    subscriber,
    pubsub: 'sharded',
    namespace,
    origin,
    redisTimeoutMs: 1000,
    ...HEARTBEAT,
    ...options,
  });
  onTestFinished(() => cache.close());
  return { cache, redis, subscriber };
}

async function instances(count: number, options: Partial<CacheOptions> = {}) {
  const namespace = options.namespace ?? uniqueName();
  const list = [];
  for (let i = 0; i < count; i++) list.push(await instance(namespace, `c${i}`, options));
  for (const { cache } of list) {
    if (cache.stats().strategy !== 'versioned') continue;
    await waitFor(() => cache.stats().trusted, { timeoutMs: 5000, what: 'trust in the bus' });
  }
  return list;
}

/** One key per channel shard, so that every master and every channel is exercised. */
function keysOnEveryShard(): string[] {
  const found = new Map<number, string>();
  for (let i = 0; found.size < CHANNEL_SHARDS; i++) {
    const key = `user:${i}`;
    const shard = shardOfSlot(calculateSlot(key));
    if (!found.has(shard)) found.set(shard, key);
  }
  return [...found.values()];
}

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

  it("one shard's subscriber connection killed: trust withdrawn, regained after a flush, no stuck key", async () => {
    const [writer, reader] = await instances(2);
    if (!writer || !reader) throw new Error('no instances');
    const source = mapLoader<User>();
    const keys = keysOnEveryShard();
    for (const key of keys) {
      source.entries[key] = v(1);
      await reader.cache.getOrLoad(key, source.load);
    }
    const lostBefore = reader.cache.stats().trustLost;
    // Kill the sharded subscriber connections on one master only.
    const master = await cluster.masterOf(0);
    await cluster.cli(master, 'CLIENT', 'KILL', 'TYPE', 'pubsub');
    await waitFor(() => reader.cache.stats().trustLost > lostBefore, {
      what: 'the reader to withdraw trust',
    });
    // Writes while it resubscribes: none may leave an L1 entry stale.
    for (const key of keys) {
      source.entries[key] = v(2);
      await writer.cache.set(key, v(2));
    }
    await waitFor(() => reader.cache.stats().trusted, { timeoutMs: 5000, what: 'trust again' });
    expect(reader.cache.stats().subscriberReconnects).toBeGreaterThanOrEqual(1);
    const stuck = [];
    for (const key of keys) {
      const read = await reader.cache.getOrLoad(key, source.load);
      if (read.version !== 2) stuck.push(key);
    }
    expect(stuck).toEqual([]);
  });

  it('reloads its scripts on whichever node answers NOSCRIPT (SCRIPT FLUSH on every node)', async () => {
    const [first] = await instances(1);
    if (!first) throw new Error('no instance');
    const source = mapLoader<User>();
    const keys = keysOnEveryShard();
    for (const key of keys) source.entries[key] = v(1);
    for (const key of keys) await first.cache.getOrLoad(key, source.load);
    for (const node of cluster.nodes) await cluster.cli(node.port, 'SCRIPT', 'FLUSH');
    for (const key of keys) {
      source.entries[key] = v(2);
      await first.cache.set(key, v(2));
      expect(
        await first.cache.getOrLoad(key, source.load, { consistency: 'strict' }),
      ).toMatchObject({ version: 2 });
    }
    expect(first.cache.stats()).toMatchObject({ redisErrors: 0, publishFailures: 0 });
  });
});

/**
 * Writes and reads on every shard from two instances until `fault` has run and the cluster is
 * healthy again; returns the stale reads (a read that started after a write of a newer version
 * had completed) and, once writes stopped and announcements drained, the stuck keys.
 */
async function underLoad(fault: (namespace: string) => Promise<void>) {
  const namespace = uniqueName();
  const [writer, reader] = await instances(2, { namespace });
  if (!writer || !reader) throw new Error('no instances');
  const source = mapLoader<User>();
  const keys = keysOnEveryShard();
  const completed = new Map<string, number>();
  for (const key of keys) {
    source.entries[key] = v(1);
    completed.set(key, 1);
    await reader.cache.getOrLoad(key, source.load);
  }
  let stop = false;
  let staleReads = 0;
  let reads = 0;
  let writes = 0;
  const writing = (async () => {
    for (let n = 0; !stop; n++) {
      const key = keys[n % keys.length] as string;
      const version = (completed.get(key) ?? 0) + 1;
      source.entries[key] = v(version);
      // The database write is done: the cache is told, whatever Redis says.
      await writer.cache.set(key, v(version)).catch(() => {});
      completed.set(key, version);
      writes++;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  })();
  const reading = (async () => {
    for (let n = 0; !stop; n++) {
      const key = keys[(n * 7) % keys.length] as string;
      const floor = completed.get(key) ?? 0;
      const read = await reader.cache.getOrLoad(key, source.load).catch(() => undefined);
      reads++;
      if (read && read.version < floor) staleReads++;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  })();
  await fault(namespace);
  await cluster.waitHealthy();
  // Load goes on for a while on the new topology, then stops.
  await waitFor(() => reads > 200 && writes > 100, { timeoutMs: 20_000, what: 'load' });
  stop = true;
  await Promise.all([writing, reading]);
  await waitFor(() => writer.cache.stats().pendingInvalidations === 0, {
    timeoutMs: 10_000,
    what: 'pending announcements to drain',
  });
  await waitFor(() => reader.cache.stats().trusted, { timeoutMs: 10_000, what: 'trust' });
  const stuck: string[] = [];
  for (const key of keys) {
    await waitFor(async () => (await reader.cache.getOrLoad(key, source.load)).version, {
      timeoutMs: 2000,
    });
    const read = await reader.cache.getOrLoad(key, source.load);
    if (read.version !== completed.get(key)) stuck.push(`${key}: ${read.version}`);
  }
  return { staleReads, reads, writes, stuck, reader: reader.cache.stats() };
}

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

describe('a Redis Cluster failing over (after the tests above: it changes the topology)', () => {
  it('manual failover (CLUSTER FAILOVER on a replica) under reads and writes: no stuck key', async () => {
    const result = await underLoad(async () => {
      const master = await cluster.masterOf(0);
      const replicas = await cluster.cli(
        master,
        'CLUSTER',
        'REPLICAS',
        await cluster.cli(master, 'CLUSTER', 'MYID'),
      );
      const port = Number(/:(\d+)@/.exec(replicas)?.[1]);
      await cluster.cli(port, 'CLUSTER', 'FAILOVER');
      await waitFor(async () => (await cluster.masterOf(0)) === port, {
        timeoutMs: 15_000,
        what: 'the replica to take over slot 0',
      });
    });
    console.log('manual failover', JSON.stringify(summary(result)));
    expect(result.stuck).toEqual([]);
  }, 60_000);

  it("a slot of hot keys and a channel's slot migrated to another master under reads and writes: no stuck key", async () => {
    const hot = keysOnEveryShard()[0] as string;
    const result = await underLoad(async (namespace) => {
      const channelSlot = calculateSlot(createKeys(namespace).shardChannels()[3] as string);
      for (const slot of [calculateSlot(hot), channelSlot]) await cluster.migrateSlot(slot);
    });
    console.log('slot migrated', JSON.stringify(summary(result)));
    expect(result.stuck).toEqual([]);
    // Trust is withdrawn only if one of its own heartbeats fell between the old master dropping
    // the channel and node-redis subscribing on the new one (a skipped seq): not asserted, see the
    // known gap in docs/redis-cluster.md.
  }, 60_000);

  it('a killed master (SIGKILL; its replica promoted) under reads and writes: no stuck key', async () => {
    const result = await underLoad(async () => {
      const master = await cluster.masterOf(16_383);
      const node = cluster.nodes.find(({ port }) => port === master);
      node?.process().kill('SIGKILL');
      await waitFor(async () => (await cluster.masterOf(16_383)) !== master, {
        timeoutMs: 20_000,
        intervalMs: 200,
        what: 'a replica to take over slot 16383',
      });
    });
    console.log('killed master', JSON.stringify(summary(result)));
    expect(result.stuck).toEqual([]);
  }, 60_000);
});

function summary(result: Awaited<ReturnType<typeof underLoad>>) {
  const { staleReads, reads, writes, stuck, reader } = result;
  const { trustLost, subscriberReconnects, redisErrors, degradedReads } = reader;
  return {
    staleReads,
    reads,
    writes,
    stuck,
    trustLost,
    subscriberReconnects,
    redisErrors,
    degradedReads,
  };
}
