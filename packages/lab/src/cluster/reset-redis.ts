import { createKeys } from '@cachelab/cache';
import { createClient } from 'redis';

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
