/**
 * Two cache instances over one Redis: A writes through, B reads the new version once A's
 * invalidation has reached it. Plain JavaScript: test/package-install.e2e.test.ts runs it with plain
 * Node in a project that installed the packed @cachelab/cache, and redis from the registry.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 node two-instances.js
 *
 * Prints one JSON line per read (MISS at version 1, then L2 at version 2) and exits 0.
 */
// #region tutorial:two-instances
import { createCache } from '@cachelab/cache';
import { createClient } from 'redis';

// The source of truth: every write bumps the row's version (a database does it in the UPDATE).
const rows = new Map([['user:42', { value: { name: 'Ada' }, version: 1 }]]);
const loader = async (key) => rows.get(key) ?? { value: null, version: 0 };

// An instance (usually one per process): a command connection, a subscriber, a cache.
async function instance(origin, events) {
  // No offline queue: with Redis down, a command fails at once (the cache then goes on without
  // Redis) instead of waiting for it, and close() returns instead of waiting for those commands.
  const redis = await createClient({ url: process.env.REDIS_URL, disableOfflineQueue: true })
    .on('error', () => {}) // reconnecting by itself; the cache counts the failed calls
    .connect();
  const subscriber = await redis
    .duplicate()
    .on('error', () => {})
    .connect();
  const cache = createCache({ redis, subscriber, origin, events });
  async function close() {
    await cache.close(); // then the clients, which are yours
    await Promise.all([redis.close(), subscriber.close()]);
  }
  return { cache, close };
}
let arrived;
const invalidated = new Promise((resolve) => (arrived = resolve));
const a = await instance('a', {});
const b = await instance('b', { propagated: () => arrived() });
const print = (read) => console.log(JSON.stringify(read));

print(await b.cache.getOrLoad('user:42', loader)); // tier MISS, version 1

// A writes: the source of truth first, then the cache (Redis, A's L1, an announcement to B).
const written = { value: { name: 'Grace' }, version: 2 };
rows.set('user:42', written);
await a.cache.set('user:42', written);

await invalidated; // B heard of version 2 and dropped its version 1
print(await b.cache.getOrLoad('user:42', loader)); // tier L2, version 2
await Promise.all([a.close(), b.close()]);
// #endregion tutorial:two-instances
