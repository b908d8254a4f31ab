/**
 * Every operation on two cache instances over one Redis, with superjson as the serializer (so a
 * `Date` and a `Set` come back as such from every tier): get, getOrLoad with a per-call TTL,
 * getMany with one batched loader call, set, delete and clear. Plain JavaScript:
 * test/package-install.e2e.test.ts runs it with plain Node in a project that installed the packed
 * @cachelab/cache, redis and superjson from the registry. Each line it prints is JSON.
 *
 * REDIS_URL picks the Redis (default redis://127.0.0.1:6379).
 */
// #region tutorial:operations
import { createCache } from '@cachelab/cache';
import { createClient } from 'redis';
import superjson from 'superjson';

// The source of truth: rows with a version that every write (a delete included) increases.
const rows = new Map([
  [
    'user:1',
    { value: { name: 'Ada', since: new Date('2020-01-01'), tags: new Set(['admin']) }, version: 1 },
  ],
  [
    'user:2',
    { value: { name: 'Grace', since: new Date('2021-06-01'), tags: new Set() }, version: 1 },
  ],
]);
const row = (key) => rows.get(key) ?? { value: null, version: 0 };
const loadOne = async (key) => row(key);
// One query for many keys (`WHERE id = ANY($1)`): one entry per key, in the order given.
const loadMany = async (keys) => keys.map(row);

// A serializer that keeps Date, Set, Map and BigInt: for namespaces only Node.js instances share.
const serializer = { encode: superjson.stringify, decode: superjson.parse };

async function instance(origin) {
  const redis = await createClient({ url: process.env.REDIS_URL }).connect();
  const subscriber = await redis.duplicate().connect();
  const cache = createCache({ redis, subscriber, origin, serializer, namespace: 'ops-example' });
  // Served from L1 only once its own heartbeat came back over the subscription.
  while (!cache.stats().trusted) await new Promise((resolve) => setTimeout(resolve, 10));
  const close = async () => {
    await cache.close();
    await Promise.all([redis.close(), subscriber.close()]);
  };
  return { cache, close };
}
const a = await instance('a');
const b = await instance('b');
// Shows which types came back: `Date …` and `Set …` when the serializer kept them.
const shown = (value) =>
  value && {
    name: value.name,
    since: value.since instanceof Date ? `Date ${value.since.toISOString()}` : value.since,
    tags: value.tags instanceof Set ? `Set ${[...value.tags]}` : value.tags,
  };
const print = (label, read) =>
  console.log(
    JSON.stringify({ label, tier: read?.tier, version: read?.version, value: shown(read?.value) }),
  );

print('get before any load', await b.cache.get('user:1')); // undefined: no loader, nothing cached
print('getOrLoad', await a.cache.getOrLoad('user:1', loadOne, { ttlMs: 10_000 })); // MISS
print('get', await b.cache.get('user:1')); // L2: a Date and a Set, as A's loader gave them

const [one, two, three] = await b.cache.getMany(['user:1', 'user:2', 'user:3'], loadMany);
print('getMany', one); // L1 (B's get filled it)
print('getMany', two); // MISS: user:2 and user:3 were loaded in one call
print('getMany', three); // MISS, null: user:3 does not exist

// Writes: the source of truth first, then the cache.
rows.set('user:2', { value: { ...two.value, name: 'Grace H.' }, version: 2 });
await a.cache.set('user:2', rows.get('user:2'), { ttlMs: 60_000 });
rows.set('user:1', { value: null, version: 2 }); // a soft delete: a tombstone at version 2
await a.cache.delete('user:1', { version: 2 });
print('after set', await a.cache.get('user:2')); // L1 on the writer
print('after delete', await a.cache.get('user:1')); // null at version 2

await a.cache.clear(); // every entry of the namespace, in Redis and in every L1
print('after clear', await a.cache.get('user:2')); // undefined
await Promise.all([a.close(), b.close()]);
// #endregion tutorial:operations
