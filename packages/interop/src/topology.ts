import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startRedisCluster,
  startRedisServer,
  type TestRedisCluster,
  type TestRedisServer,
} from '@cachelab/testkit';
import { createClient, createCluster } from 'redis';

/** `single`: one redis-server, global Pub/Sub. `cluster`: Redis Cluster, sharded Pub/Sub. */
export type TopologyKind = 'single' | 'cluster';

/** The Redis the harness runs the adapters against, and what it does to it directly. */
export interface Topology {
  readonly kind: TopologyKind;
  /** Says what it is in the report, e.g. `redis-server (global Pub/Sub)`. */
  readonly label: string;
  /** `REDIS_URL` or `REDIS_CLUSTER_NODES` for the adapters. */
  adapterEnv(): Record<string, string>;
  get(key: string): Promise<string | null>;
  /** Runs a script of protocol/scripts by its text (EVAL), for changes behind the adapters' backs. */
  eval(text: string, keys: string[], args: string[]): Promise<unknown>;
  /** PUBLISH (single) or SPUBLISH (cluster) a raw message. */
  publish(channel: string, message: string): Promise<void>;
  /** SUBSCRIBE or SSUBSCRIBE, on a connection of the harness. */
  subscribe(channel: string, listener: (message: string) => void): Promise<void>;
  /** `CLIENT KILL TYPE pubsub` on every node: every subscriber connection is cut. */
  killSubscribers(): Promise<void>;
  /** `SCRIPT FLUSH` on every node. */
  flushScripts(): Promise<void>;
  /** Kills redis-server and starts it again, empty, on the same port (single only). */
  restartEmpty?(): Promise<void>;
  /** `SAVE`: a snapshot on disk that {@link Topology.restoreSnapshot} brings back (single only). */
  save?(): Promise<void>;
  /** Stops redis-server without saving and starts it again from the last `SAVE` (single only). */
  restoreSnapshot?(): Promise<void>;
  stop(): Promise<void>;
}

const socket = { connectTimeout: 2000, reconnectStrategy: () => 50 };

/** Starts a redis-server of its own (testkit) and connects the harness's clients. */
export async function startSingle(): Promise<Topology> {
  // A directory of its own for the snapshot of `save`; nothing is saved unless asked (`--save ''`).
  const dir = await mkdtemp(join(tmpdir(), 'cachelab-interop-'));
  const snapshot = join(dir, 'dump.rdb');
  const server: TestRedisServer = await startRedisServer({
    args: ['--dir', dir, '--dbfilename', 'dump.rdb'],
  });
  const redis = createClient({ url: server.url, socket });
  const subscriber = redis.duplicate();
  for (const client of [redis, subscriber]) client.on('error', () => {});
  await Promise.all([redis.connect(), subscriber.connect()]);
  // A separate connection for admin commands: the subscriber must not be the one killed first.
  return {
    kind: 'single',
    label: 'redis-server (global Pub/Sub)',
    adapterEnv: () => ({ REDIS_URL: server.url }),
    get: (key) => redis.get(key),
    eval: (text, keys, args) => redis.eval(text, { keys, arguments: args }),
    publish: async (channel, message) => void (await redis.publish(channel, message)),
    subscribe: (channel, listener) => subscriber.subscribe(channel, listener),
    killSubscribers: async () =>
      void (await redis.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub'])),
    flushScripts: async () => void (await redis.sendCommand(['SCRIPT', 'FLUSH'])),
    restartEmpty: async () => {
      await server.kill('SIGKILL');
      await rm(snapshot, { force: true });
      await server.restart();
    },
    save: async () => void (await redis.sendCommand(['SAVE'])),
    // SIGTERM saves nothing without save points: the restart loads the last SAVE's snapshot.
    restoreSnapshot: () => server.restart(),
    async stop() {
      for (const client of [redis, subscriber]) if (client.isOpen) client.destroy();
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Starts a Redis Cluster of three masters with a replica each (testkit). */
export async function startCluster(): Promise<Topology> {
  const cluster: TestRedisCluster = await startRedisCluster({ masters: 3 });
  const urls = cluster.nodes.map(({ port }) => `redis://127.0.0.1:${port}`);
  const redis = createCluster({ rootNodes: urls.map((url) => ({ url })), defaults: { socket } });
  const subscriber = redis.duplicate();
  for (const client of [redis, subscriber]) client.on('error', () => {});
  await Promise.all([redis.connect(), subscriber.connect()]);
  const everyNode = (...args: string[]) =>
    Promise.all(cluster.nodes.map(({ port }) => cluster.cli(port, ...args)));
  return {
    kind: 'cluster',
    label: 'Redis Cluster, 3 masters (sharded Pub/Sub)',
    adapterEnv: () => ({ REDIS_CLUSTER_NODES: urls.join(',') }),
    get: (key) => redis.get(key),
    eval: (text, keys, args) => redis.eval(text, { keys, arguments: args }),
    publish: async (channel, message) => void (await redis.sPublish(channel, message)),
    subscribe: (channel, listener) => subscriber.sSubscribe(channel, listener),
    killSubscribers: async () => void (await everyNode('CLIENT', 'KILL', 'TYPE', 'pubsub')),
    flushScripts: async () => void (await everyNode('SCRIPT', 'FLUSH')),
    async stop() {
      await Promise.allSettled([redis.close(), subscriber.close()]);
      await cluster.stop();
    },
  };
}
