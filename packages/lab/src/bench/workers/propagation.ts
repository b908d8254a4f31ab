/**
 * One side of the propagation benchmark, driven by the bench over IPC. Times are
 * `process.hrtime.bigint()` in ns: CLOCK_MONOTONIC, which every process on a Linux machine shares,
 * so a writer's and a reader's stamps can be subtracted.
 *
 *   writer, cache: `await cache.set(key, v)` (pointer + data + PUBLISH in one Lua round trip)
 *   reader, cache: an L1 holding the key; a second listener on the channel, called right after the
 *                  cache's own, reads the key through `getOrLoad` and stamps when L1 no longer
 *                  answers the old version (polling on setImmediate if it still did)
 *   writer, raw:   `await SET` then `await PUBLISH` with node-redis (the floor)
 *   reader, raw:   a subscriber that stamps each message once parsed
 *
 * With `clusterNodes`, both run on a Redis Cluster (node-redis `createCluster`): the cache with
 * `pubsub` (`sharded`: SPUBLISH on the key's shard channel; `global`: PUBLISH, which the cluster
 * broadcasts to every node), the raw writer with `await SET` then `await SPUBLISH`.
 */
import { type Cache, createCache, createKeys } from '@cachelab/cache';
import { createClient, createCluster } from 'redis';
import { serveCommands } from '../child.ts';

interface Input {
  role: 'writer' | 'reader';
  mode: 'cache' | 'raw';
  redisUrl: string;
  namespace: string;
  userBytes: number;
  /** `host:port` seeds of a Redis Cluster to run on instead of `redisUrl`. */
  clusterNodes?: string[];
  /** Pub/Sub of the cache on a cluster. @default 'sharded' */
  pubsub?: 'global' | 'sharded';
}

type Command =
  | { id: number; cmd: 'write'; version: number }
  | { id: number; cmd: 'warm'; version: number }
  | { id: number; cmd: 'seen'; version: number }
  | { id: number; cmd: 'stats' };

const input = JSON.parse(process.argv[2] ?? '{}') as Input;
const now = () => Number(process.hrtime.bigint());
const KEY = 'user:1';
const keys = createKeys(input.namespace);
const pubsub = input.clusterNodes ? (input.pubsub ?? 'sharded') : 'global';
const channel = pubsub === 'sharded' ? keys.shardChannel(KEY) : keys.channel();

/** A user whose JSON is about `userBytes` long. */
function user(version: number) {
  const base = { id: '1', name: 'Ada Lovelace', email: 'ada@example.com', age: 36, version };
  const padding = Math.max(0, input.userBytes - JSON.stringify({ ...base, bio: '' }).length);
  return { ...base, bio: 'x'.repeat(padding) };
}

// Typed as one client: what this worker calls (set, publish, subscribe, connect) both have.
const redis = (
  input.clusterNodes
    ? createCluster({
        rootNodes: input.clusterNodes.map((node) => {
          const [host, port] = node.split(':');
          return { socket: { host, port: Number(port) } };
        }),
      })
    : createClient({ url: input.redisUrl })
) as ReturnType<typeof createClient>;
const subscriber = redis.duplicate();
redis.on('error', () => {});
subscriber.on('error', () => {});
await redis.connect();
await subscriber.connect();

let cache: Cache<ReturnType<typeof user>> | undefined;
if (input.mode === 'cache') {
  cache = createCache({
    redis,
    subscriber,
    namespace: input.namespace,
    origin: `bench-${input.role}`,
    pubsub,
  });
  const deadline = Date.now() + 10_000;
  while (!cache.stats().trusted && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 5));
  if (!cache.stats().trusted) throw new Error('the invalidation bus never became trusted');
}
const loader = async () => ({ value: null, version: 0 });

/** Reader: when L1 stopped answering each version's predecessor, by version. */
const seen = new Map<number, { at: number; atOnce: boolean }>();
const waiters = new Map<number, () => void>();

function record(version: number, at: number, atOnce: boolean): void {
  if (seen.has(version)) return;
  seen.set(version, { at, atOnce });
  waiters.get(version)?.();
}

/** Stamps now if L1 no longer answers below `version`; else tries again on the next turn. */
function probe(version: number, first: boolean): void {
  const at = now();
  void (cache as Cache<unknown>).getOrLoad(KEY, loader).then((read) => {
    if (read.tier !== 'L1' || read.version >= version) record(version, at, first);
    else setImmediate(() => probe(version, false));
  });
}

if (input.role === 'reader') {
  // Registered after the cache's own listener (its SUBSCRIBE came first), so it runs right after.
  const subscribe = pubsub === 'sharded' ? 'sSubscribe' : 'subscribe';
  await subscriber[subscribe](channel, (raw) => {
    const message = JSON.parse(raw) as { type: string; key?: string; version?: number };
    if (message.type !== 'inv' || message.key !== KEY || message.version === undefined) return;
    if (input.mode === 'raw') record(message.version, now(), true);
    else probe(message.version, true);
  });
}

async function handle(command: Command): Promise<unknown> {
  switch (command.cmd) {
    case 'write': {
      const written = { value: user(command.version), version: command.version };
      const message = JSON.stringify({ type: 'inv', key: KEY, version: command.version });
      const start = now();
      if (cache) await cache.set(KEY, written);
      else {
        await redis.set(keys.data(KEY, command.version), JSON.stringify(written.value));
        if (pubsub === 'sharded') await redis.sPublish(channel, message);
        else await redis.publish(channel, message);
      }
      return { start, end: now() };
    }
    case 'warm': {
      if (!cache) return { tier: 'none' };
      for (let attempt = 0; attempt < 100; attempt++) {
        const read = await cache.getOrLoad(KEY, loader);
        if (read.tier === 'L1' && read.version === command.version) return { tier: 'L1' };
        await new Promise((r) => setTimeout(r, 1));
      }
      throw new Error(`L1 of the reader never held version ${command.version}`);
    }
    case 'seen': {
      if (!seen.has(command.version)) {
        await new Promise<void>((resolve) => {
          waiters.set(command.version, resolve);
          setTimeout(resolve, 2000).unref();
        });
        waiters.delete(command.version);
      }
      return seen.get(command.version) ?? null;
    }
    case 'stats':
      return cache?.stats() ?? null;
  }
}

serveCommands(handle);
