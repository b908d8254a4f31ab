/**
 * The Node.js adapter of the interop harness (protocol/INTEROP.md): one `@cachelab/cache`
 * instance driven by JSON lines on stdin, answered on stdout. Logs go to stderr only.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 CACHELAB_NAMESPACE=t1 CACHELAB_ORIGIN=a \
 *     node --import tsx packages/interop/src/adapters/node.ts
 */
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import {
  type Cache,
  CacheError,
  type CacheOptions,
  createCache,
  type Loaded,
  type RedisLike,
} from '@cachelab/cache';
import { createClient, createCluster } from 'redis';
import { readAdapterEnv } from './env.ts';
import { type AdapterRequest, parseRequest, RequestError } from './requests.ts';

const VERSION = '0.1.0';
const env = readAdapterEnv(process.env);
const socket = {
  connectTimeout: 2000,
  reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1000),
};

/** The command client and the subscriber, connected; `close` ends both. */
async function connect() {
  if (env.clusterNodes) {
    const redis = createCluster({
      rootNodes: env.clusterNodes.map((url) => ({ url })),
      defaults: { socket, disableOfflineQueue: true },
    });
    const subscriber = redis.duplicate();
    for (const client of [redis, subscriber]) client.on('error', log);
    await Promise.all([redis.connect(), subscriber.connect()]);
    const close = () => Promise.all([redis.close(), subscriber.close()]);
    return { redis, subscriber, pubsub: 'sharded' as const, close };
  }
  const redis = createClient({ url: env.redisUrl, socket, disableOfflineQueue: true });
  const subscriber = redis.duplicate();
  for (const client of [redis, subscriber]) client.on('error', log);
  await Promise.all([redis.connect(), subscriber.connect()]);
  const close = () => Promise.all([redis.close(), subscriber.close()]);
  return { redis, subscriber, pubsub: 'global' as const, close };
}

function log(error: unknown): void {
  process.stderr.write(`node adapter: ${(error as Error)?.message ?? String(error)}\n`);
}

const clients = await connect();
const options: CacheOptions = {
  redis: clients.redis as unknown as RedisLike,
  subscriber: clients.subscriber as unknown as CacheOptions['subscriber'],
  pubsub: clients.pubsub,
  namespace: env.namespace,
  origin: env.origin,
  heartbeatIntervalMs: env.heartbeatMs,
  heartbeatTimeoutMs: env.heartbeatTimeoutMs,
  l1TtlMs: env.l1TtlMs,
  onError: log,
  ...(env.secrets.length > 0 ? { signingSecret: env.secrets } : {}),
};
const cache: Cache<unknown> = createCache(options);

// Ready once subscribed and trusted (an own heartbeat came back): bounded, then ready anyway.
const deadline = performance.now() + 10_000;
while (!cache.stats().trusted && performance.now() < deadline) await delay(10);

function write(line: object): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** Answers one request; the loader plays back the harness's `source`. */
async function handle(request: AdapterRequest): Promise<object> {
  switch (request.op) {
    case 'read': {
      let loaded = false;
      const loader = async (): Promise<Loaded<unknown>> => {
        loaded = true;
        if (request.loadDelayMs > 0) await delay(request.loadDelayMs);
        return request.source ?? { value: null, version: 0 };
      };
      const read = await cache.getOrLoad(request.key, loader, {
        consistency: request.consistency,
        minVersion: request.minVersion,
      });
      return { value: read.value, version: read.version, tier: read.tier, loaded };
    }
    case 'set':
      await cache.set(request.key, { value: request.value, version: request.version });
      return {};
    case 'delete':
      await cache.set(request.key, { value: null, version: request.version });
      return {};
    case 'announce':
      await cache.announce(request.key, request.version);
      return {};
    case 'peek': {
      const local = cache.getLocal(request.key, async () => ({ value: null, version: 0 }));
      return local ? { found: true, value: local.value, version: local.version } : { found: false };
    }
    case 'stats': {
      const stats = cache.stats();
      return {
        trusted: stats.trusted,
        l1Entries: stats.l1Size,
        rejected: { ...stats.messagesRejected },
        announcementsSent: stats.invalidationsSent,
        trustLost: stats.trustLost,
        invalidationsReceived: stats.invalidationsReceived,
      };
    }
    case 'close':
      return {}; // answered by `answer`, once every other request is
  }
}

/** Requests being handled; `close` (and the end of stdin) waits for them. */
const inFlight = new Set<Promise<void>>();

async function answer(line: string): Promise<void> {
  let id: unknown = null;
  try {
    const request = parseRequest(line);
    id = request.id;
    if (request.op === 'close') {
      await Promise.allSettled(inFlight);
      write({ id, ok: true });
      return await shutdown();
    }
    write({ id, ok: true, ...(await handle(request)) });
  } catch (error) {
    id = error instanceof RequestError ? error.id : id;
    const code =
      error instanceof CacheError || error instanceof RequestError ? error.code : 'E_FAILED';
    write({ id, ok: false, error: { code, message: (error as Error).message } });
  }
}

let closing: Promise<void> | undefined;
function shutdown(): Promise<void> {
  closing ??= (async () => {
    await cache.close();
    await clients.close().catch(log);
    process.exit(0);
  })();
  return closing;
}

write({ event: 'ready', impl: 'node', version: VERSION });
const lines = createInterface({ input: process.stdin });
// Each request is handled as it arrives: a slow read must not hold up the requests after it.
lines.on('line', (line) => {
  const handled = answer(line);
  inFlight.add(handled);
  void handled.finally(() => inFlight.delete(handled));
});
lines.on('close', () => void Promise.allSettled(inFlight).then(shutdown));
