import { readFile } from 'node:fs/promises';
import { startRedisServer, uniqueName, waitFor } from '@cachelab/testkit';
import { createClient } from 'redis';
import { describe, expect, it } from 'vitest';
import { createCache } from '../src/index.ts';

/** Resolves with how long `promise` took, or `undefined` if it had not settled after `ms`. */
async function within(promise: Promise<unknown>, ms: number): Promise<number | undefined> {
  const start = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  const done = promise.then(
    () => performance.now() - start,
    () => performance.now() - start,
  );
  try {
    return await Promise.race([done, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A cache over clients made with `options`, then Redis gone and a read on it. The clients retry
 * every `retryMs`: node-redis drops what is queued at each failed attempt, so a long one leaves
 * every queued command in place, as a Redis down for long does.
 */
async function cacheWithRedisGone(options: { disableOfflineQueue?: boolean; retryMs: number }) {
  const server = await startRedisServer();
  const redis = await createClient({
    url: server.url,
    disableOfflineQueue: options.disableOfflineQueue,
    socket: { reconnectStrategy: () => options.retryMs },
  })
    .on('error', () => {})
    .connect();
  const subscriber = await redis
    .duplicate()
    .on('error', () => {})
    .connect();
  const cache = createCache<string>({ redis, subscriber, namespace: uniqueName() });
  await waitFor(() => cache.stats().trusted, { what: 'trust' });
  await server.stop();
  // Both clients, so that every run takes the same path: nothing written to a socket that dies.
  await waitFor(() => !redis.isReady && !subscriber.isReady, {
    what: 'the clients to see Redis gone',
  });
  // A read while Redis is down: it goes to the loader, its Redis calls fail or time out.
  await cache.getOrLoad('k', async () => ({ value: 'v', version: 1 }));
  return { server, cache, redis, subscriber };
}

describe("the library example's Redis clients", () => {
  it('are made without an offline queue, as the README says', async () => {
    const example = await readFile(
      new URL('../examples/two-instances.js', import.meta.url),
      'utf8',
    );
    expect(example).toMatch(/createClient\(\{[^}]*disableOfflineQueue: true/);
  });

  it('close at once with Redis down, when made so', async () => {
    const { cache, redis, subscriber } = await cacheWithRedisGone({
      disableOfflineQueue: true,
      retryMs: 10_000,
    });
    expect(await within(cache.close(), 2000)).toBeDefined();
    // node-redis queues an UNSUBSCRIBE even without the offline queue, and close() would wait
    // for its reply: the cache sends none to a subscriber that is down.
    expect(await within(Promise.all([redis.close(), subscriber.close()]), 2000)).toBeDefined();
  });

  it('are left unsubscribed once Redis is back, when the cache closed while it was down', async () => {
    const { server, cache, redis, subscriber } = await cacheWithRedisGone({
      disableOfflineQueue: true,
      retryMs: 50,
    });
    await cache.close();
    await server.restart();
    await waitFor(() => redis.isReady && subscriber.isReady, { what: 'the clients back' });
    // The client re-subscribed on its own when it reconnected; the cache's UNSUBSCRIBE follows.
    await waitFor(async () => (await redis.pubSubChannels()).length === 0, {
      what: 'no channel subscribed',
    });
    await Promise.all([redis.close(), subscriber.close()]);
    await server.stop();
  });

  it('never close with Redis down with the offline queue on (the default), so it is off', async () => {
    const { cache, redis, subscriber } = await cacheWithRedisGone({ retryMs: 10_000 });
    await cache.close();
    expect(await within(Promise.all([redis.close(), subscriber.close()]), 2000)).toBeUndefined();
    redis.destroy();
    subscriber.destroy();
  });
});
