import { startRedisCluster, type TestRedisCluster, uniqueName, waitFor } from '@cachelab/testkit';
import calculateSlot from 'cluster-key-slot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeys } from '../src/index.ts';
import { clusterFixture, keysOnEveryShard, type User, v } from './cluster-fixture.ts';
import { mapLoader } from './fixture.ts';

// Own Redis Cluster (not the shared one): these tests kill connections, flush scripts, fail over,
// migrate slots and kill a master. Six redis-server processes: three masters, one replica each.
let cluster: TestRedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster();
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

const { instances } = clusterFixture(() => cluster.seeds);

describe('a Redis Cluster whose connections and scripts are lost', () => {
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
