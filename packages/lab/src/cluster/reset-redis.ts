import { createKeys } from '@cachelab/cache';
import { createClient, createCluster } from 'redis';

/** How many keys one SCAN step asks for, and one UNLINK deletes at most. */
const BATCH = 1000;

/**
 * Deletes every key of cache namespace `namespace` in the Redis at `url` (SCAN … MATCH, then
 * UNLINK, a batch at a time): nothing else in that Redis is touched. Returns how many it deleted.
 * @throws when Redis cannot be reached within 2 s or refuses a command.
 */
export async function deleteNamespaceKeys(url: string, namespace: string): Promise<number> {
  const client = createClient({
    url,
    disableOfflineQueue: true,
    socket: { connectTimeout: 2000, reconnectStrategy: false },
  });
  client.on('error', () => {}); // the failing command or connect() reports it
  await client.connect();
  try {
    let deleted = 0;
    for await (const keys of client.scanIterator({
      MATCH: createKeys(namespace).pattern(),
      COUNT: BATCH,
    })) {
      if (keys.length > 0) deleted += await client.unlink(keys);
    }
    return deleted;
  } finally {
    client.destroy();
  }
}

/**
 * Deletes every key of cache namespace `namespace` in the Redis Cluster reached through `seeds`
 * (`host:port` each): SCAN … MATCH on every master, then UNLINK key by key (keys of one namespace
 * live in many slots, and a command may touch one slot only). Returns how many it deleted.
 * @throws when the cluster cannot be reached within 2 s or a node refuses a command.
 */
export async function deleteClusterNamespaceKeys(
  seeds: string[],
  namespace: string,
): Promise<number> {
  const cluster = createCluster({
    rootNodes: seeds.map((seed) => ({ url: `redis://${seed}` })),
    defaults: {
      disableOfflineQueue: true,
      socket: { connectTimeout: 2000, reconnectStrategy: false },
    },
  });
  cluster.on('error', () => {}); // the failing command or connect() reports it
  await cluster.connect();
  try {
    let deleted = 0;
    for (const master of cluster.masters) {
      const client = await cluster.nodeClient(master);
      for await (const keys of client.scanIterator({
        MATCH: createKeys(namespace).pattern(),
        COUNT: BATCH,
      })) {
        const counts = await Promise.all(keys.map((key) => client.unlink(key)));
        deleted += counts.reduce((sum, n) => sum + n, 0);
      }
    }
    return deleted;
  } finally {
    cluster.destroy();
  }
}
