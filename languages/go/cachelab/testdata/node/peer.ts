/**
 * A Node.js instance of @cachelab/cache (the repository's own sources) for the Go library's
 * cross-language test (crosslang_test.go): one cache, driven by JSON lines on stdin, answered on
 * stdout. Environment: REDIS_URL, CACHELAB_NAMESPACE, CACHELAB_ORIGIN, CACHELAB_SECRETS.
 *
 *   node --import tsx languages/go/cachelab/testdata/node/peer.ts
 */
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { createClient } from 'redis';
import { createCache } from '../../../../../packages/cache/src/index.ts';

const env = process.env;
const redis = createClient({ url: env.REDIS_URL });
const subscriber = redis.duplicate();
for (const client of [redis, subscriber]) client.on('error', (e) => console.error(`peer: ${e}`));
await Promise.all([redis.connect(), subscriber.connect()]);
const secrets = (env.CACHELAB_SECRETS ?? '').split(',').filter((s) => s !== '');
const cache = createCache<unknown>({
  // biome-ignore lint/suspicious/noExplicitAny: node-redis's client types are wider than RedisLike
  redis: redis as any,
  // biome-ignore lint/suspicious/noExplicitAny: as above
  subscriber: subscriber as any,
  namespace: env.CACHELAB_NAMESPACE,
  origin: env.CACHELAB_ORIGIN,
  heartbeatIntervalMs: 50,
  heartbeatTimeoutMs: 400,
  l1TtlMs: 60_000,
  ...(secrets.length > 0 ? { signingSecret: secrets } : {}),
});
const deadline = performance.now() + 10_000;
while (!cache.stats().trusted && performance.now() < deadline) await delay(5);

type Request = {
  id: number;
  op: 'read' | 'set' | 'peek' | 'stats' | 'close';
  key: string;
  value?: unknown;
  version?: number;
  source?: { value: unknown; version: number } | null;
};

async function handle(r: Request): Promise<object> {
  switch (r.op) {
    case 'read': {
      const read = await cache.getOrLoad(
        r.key,
        async () => r.source ?? { value: null, version: 0 },
      );
      return { value: read.value, version: read.version, tier: read.tier };
    }
    case 'set':
      await cache.set(r.key, { value: r.value ?? null, version: r.version ?? 0 });
      return {};
    case 'peek': {
      const hit = cache.getLocal(r.key, async () => ({ value: null, version: 0 }));
      return hit ? { found: true, value: hit.value, version: hit.version } : { found: false };
    }
    case 'stats': {
      const s = cache.stats();
      return {
        trusted: s.trusted,
        received: s.invalidationsReceived,
        rejected: s.messagesRejected,
      };
    }
    case 'close':
      return {}; // then the loop ends, and the cache closes below
  }
}

process.stdout.write(`${JSON.stringify({ event: 'ready', trusted: cache.stats().trusted })}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  const request = JSON.parse(line) as Request;
  try {
    process.stdout.write(
      `${JSON.stringify({ id: request.id, ok: true, ...(await handle(request)) })}\n`,
    );
  } catch (error) {
    process.stdout.write(
      `${JSON.stringify({ id: request.id, ok: false, error: String(error) })}\n`,
    );
  }
  if (request.op === 'close') break;
}
// At `close` or the end of stdin: close the cache and the connections, and exit.
await cache.close();
await Promise.all([redis.close(), subscriber.close()]);
process.exit(0);
