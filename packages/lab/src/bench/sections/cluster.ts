import { type Cache, createCache, createKeys } from '@cachelab/cache';
import { startRedisCluster, type TestRedisCluster, waitFor } from '@cachelab/testkit';
import calculateSlot from 'cluster-key-slot';
import { createCluster } from 'redis';
import type { BenchServices } from '../services.ts';
import type { BenchSettings } from '../settings.ts';
import { measurePropagation, type PropagationRow } from './propagation.ts';

/** Pub/Sub messages one node exchanged over the cluster bus during the measured writes. */
export interface NodeTraffic {
  port: number;
  /** Its place relative to the node that received the writes' Pub/Sub command. */
  role: 'publishing master' | 'its replica' | 'other master' | 'other replica';
  /** `CLUSTER INFO` cluster_stats_messages_publish_sent / _received (global PUBLISH). */
  publishSent: number;
  publishReceived: number;
  /** `CLUSTER INFO` cluster_stats_messages_publishshard_sent / _received (SPUBLISH). */
  publishshardSent: number;
  publishshardReceived: number;
}

/** The Pub/Sub traffic of N invalidations of one key, with one Pub/Sub flavour. */
export interface TrafficRun {
  pubsub: 'global' | 'sharded';
  /** The channel the writes were announced on and the port of the master serving its slot. */
  channel: string;
  publishingMaster: number;
  nodes: NodeTraffic[];
}

/** The cluster section's results. */
export interface ClusterResults {
  topology: string;
  /** Propagation on the one Redis of the run and on the cluster (same pairs as section 3). */
  propagation: PropagationRow[];
  traffic: { writes: number; key: string; keySlot: number; runs: TrafficRun[] };
}

const KEY = 'user:1';

/**
 * Redis Cluster: a cluster of its own (three masters, one replica each, `redis-server` on
 * loopback). Propagation p50/p99 of a writer/reader process pair on the one Redis of the run and
 * on the cluster (sharded and global Pub/Sub); then the cluster-bus Pub/Sub messages per node for
 * `settings.cluster.trafficWrites` invalidations of one key, with the cache's `pubsub: 'global'`
 * (PUBLISH, broadcast to every node) and `pubsub: 'sharded'` (SPUBLISH, kept on the channel's
 * shard), read from every node's `CLUSTER INFO` before and after.
 */
export async function runCluster(
  settings: BenchSettings,
  services: BenchServices,
): Promise<ClusterResults> {
  const cluster = await startRedisCluster();
  try {
    const nodes = cluster.seeds.split(',');
    const version = /redis_version:(\S+)/.exec(
      await cluster.cli(cluster.nodes[0]?.port ?? 0, 'INFO', 'server'),
    )?.[1];
    // A namespace of its own: section 3 may have written the same key on this Redis already.
    const one = await measurePropagation(
      settings,
      services,
      'cache',
      undefined,
      'bench-cluster-one-redis',
    );
    const sharded = await measurePropagation(settings, services, 'cache', {
      nodes,
      pubsub: 'sharded',
    });
    const global = await measurePropagation(settings, services, 'cache', {
      nodes,
      pubsub: 'global',
    });
    const raw = await measurePropagation(settings, services, 'raw', { nodes, pubsub: 'sharded' });
    const runs: TrafficRun[] = [];
    for (const pubsub of ['global', 'sharded'] as const) {
      runs.push(await traffic(cluster, pubsub, settings.cluster.trafficWrites));
    }
    return {
      topology: `3 masters, 3 replicas (redis-server ${version ?? '?'}, loopback, cluster-node-timeout 2000 ms)`,
      propagation: [
        { name: 'one Redis', what: 'PUBLISH inside the write script', ...one.row },
        { name: 'cluster, sharded', what: 'SPUBLISH after the write script', ...sharded.row },
        { name: 'cluster, global', what: 'PUBLISH inside the write script', ...global.row },
        { name: 'cluster, raw SET + SPUBLISH', what: 'the floor', ...raw.row },
      ],
      traffic: {
        writes: settings.cluster.trafficWrites,
        key: KEY,
        keySlot: calculateSlot(KEY),
        runs,
      },
    };
  } finally {
    await cluster.stop();
  }
}

/** Every node's Pub/Sub counters of the cluster bus, by port. */
async function counters(cluster: TestRedisCluster): Promise<Map<number, number[]>> {
  const fields = ['publish_sent', 'publish_received', 'publishshard_sent', 'publishshard_received'];
  const byPort = new Map<number, number[]>();
  for (const { port } of cluster.nodes) {
    const info = await cluster.cli(port, 'CLUSTER', 'INFO');
    byPort.set(
      port,
      fields.map((field) => {
        const match = new RegExp(`^cluster_stats_messages_${field}:(\\d+)`, 'm').exec(info);
        return Number(match?.[1] ?? 0);
      }),
    );
  }
  return byPort;
}

/**
 * `writes` invalidations of one key by a writer cache, with a reader cache subscribed, both on the
 * cluster with `pubsub`; heartbeats every 60 s so that only the writes' messages are counted.
 */
async function traffic(
  cluster: TestRedisCluster,
  pubsub: 'global' | 'sharded',
  writes: number,
): Promise<TrafficRun> {
  const namespace = `bench-traffic-${pubsub}`;
  const keys = createKeys(namespace);
  const channel = pubsub === 'sharded' ? keys.shardChannel(KEY) : keys.channel();
  const clients: { destroy(): void }[] = [];
  const caches: Cache<{ version: number }>[] = [];
  try {
    for (const role of ['writer', 'reader']) {
      const redis = createCluster({
        rootNodes: cluster.nodes.map(({ port }) => ({ socket: { host: '127.0.0.1', port } })),
      });
      const subscriber = redis.duplicate();
      for (const client of [redis, subscriber]) {
        client.on('error', () => {});
        await client.connect();
        clients.push(client);
      }
      const cache = createCache<{ version: number }>({
        redis,
        subscriber,
        namespace,
        origin: `bench-traffic-${role}`,
        pubsub,
        heartbeatIntervalMs: 60_000,
        heartbeatTimeoutMs: 120_000,
      });
      caches.push(cache);
    }
    // Counting the traffic needs both caches subscribed, not trusting their L1: with sharded
    // Pub/Sub a cache first trusts it a stall threshold after it subscribed (MUST-TRUST-8), which
    // this section's long heartbeat (no heartbeat traffic in the counts) makes 90 s.
    await waitFor(async () => (await subscribers(cluster, pubsub, channel)) >= caches.length, {
      timeoutMs: 10_000,
      what: 'the writer and the reader subscribed',
    });
    const [writer] = caches as [Cache<{ version: number }>];
    // The node the writes' Pub/Sub command reaches: the key's master (PUBLISH inside the
    // script), or the channel's master (SPUBLISH).
    const publishingMaster = await cluster.masterOf(
      calculateSlot(pubsub === 'sharded' ? channel : KEY),
    );
    const replicaIds = await cluster.cli(
      publishingMaster,
      'CLUSTER',
      'REPLICAS',
      await cluster.cli(publishingMaster, 'CLUSTER', 'MYID'),
    );
    const masters = new Set<number>();
    for (const slot of [0, 8191, 16_383]) masters.add(await cluster.masterOf(slot));
    const before = await counters(cluster);
    for (let version = 1; version <= writes; version++) {
      await writer.set(KEY, { value: { version }, version });
    }
    // The receiving side's counters lag the sender's a little: read until two reads agree.
    let after = await counters(cluster);
    await waitFor(
      async () => {
        const again = await counters(cluster);
        const same = JSON.stringify([...again]) === JSON.stringify([...after]);
        after = again;
        return same;
      },
      { timeoutMs: 5000, intervalMs: 100, what: 'the cluster-bus counters to settle' },
    );
    const nodes = cluster.nodes.map(({ port }): NodeTraffic => {
      const [a = 0, b = 0, c = 0, d = 0] = after.get(port) ?? [];
      const [a0 = 0, b0 = 0, c0 = 0, d0 = 0] = before.get(port) ?? [];
      const role =
        port === publishingMaster
          ? 'publishing master'
          : replicaIds.includes(`:${port}@`)
            ? 'its replica'
            : masters.has(port)
              ? 'other master'
              : 'other replica';
      return {
        port,
        role,
        publishSent: a - a0,
        publishReceived: b - b0,
        publishshardSent: c - c0,
        publishshardReceived: d - d0,
      };
    });
    return { pubsub, channel, publishingMaster, nodes };
  } finally {
    for (const cache of caches) await cache.close();
    for (const client of clients) client.destroy();
  }
}

/** Connections subscribed to `channel` on every node of the cluster, by `PUBSUB (SHARD)NUMSUB`. */
async function subscribers(
  cluster: TestRedisCluster,
  pubsub: 'global' | 'sharded',
  channel: string,
): Promise<number> {
  const command = pubsub === 'sharded' ? 'SHARDNUMSUB' : 'NUMSUB';
  let total = 0;
  for (const { port } of cluster.nodes) {
    const reply = await cluster.cli(port, 'PUBSUB', command, channel).catch(() => '');
    total += Number(reply.trim().split('\n').at(-1)) || 0;
  }
  return total;
}
