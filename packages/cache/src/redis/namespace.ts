import type { RedisLike, ScanLike, ShardedRedisLike } from '../types.ts';
import type { RedisCall } from './health-gate.ts';

/** Keys one `SCAN` step asks for, and one `UNLINK` deletes at most. */
const BATCH = 1000;

/**
 * Deletes every key matching `pattern` (a namespace's, e.g. `cl:{*`): `SCAN … MATCH` and `UNLINK`
 * a batch at a time on one Redis; on a Redis Cluster client (one with `masters` and `nodeClient`)
 * on every master, `UNLINK` key by key (the keys of a batch live in many slots). Every call goes
 * through `call` (bounded, gated). Returns how many keys were deleted.
 */
export async function deleteMatching(
  redis: RedisLike,
  pattern: string,
  call: RedisCall,
): Promise<number> {
  const cluster = redis as ShardedRedisLike;
  if (cluster.masters && cluster.nodeClient) {
    let deleted = 0;
    for (const master of cluster.masters) {
      const node = await call(
        'node client',
        () => cluster.nodeClient?.(master as never) as Promise<ScanLike>,
      );
      deleted += await scanAndUnlink(node, pattern, call, async (keys) => {
        const counts = await Promise.all(keys.map((key) => call('UNLINK', () => node.unlink(key))));
        return counts.reduce((sum, n) => sum + n, 0);
      });
    }
    return deleted;
  }
  const { scan, unlink } = redis;
  if (!scan || !unlink)
    throw new TypeError('`clear` needs a Redis client with `scan` and `unlink`');
  const node = { scan: scan.bind(redis) };
  return scanAndUnlink(node, pattern, call, (keys) =>
    call('UNLINK', () => unlink.call(redis, keys)),
  );
}

async function scanAndUnlink(
  node: Pick<ScanLike, 'scan'>,
  pattern: string,
  call: RedisCall,
  unlink: (keys: string[]) => Promise<number>,
): Promise<number> {
  let deleted = 0;
  let cursor = '0';
  do {
    const step = await call('SCAN', () => node.scan(cursor, { MATCH: pattern, COUNT: BATCH }));
    cursor = String(step.cursor);
    if (step.keys.length > 0) deleted += await unlink(step.keys);
  } while (cursor !== '0');
  return deleted;
}
